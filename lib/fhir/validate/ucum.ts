/**
 * UCUM unit expressions (The Unified Code for Units of Measure, §2.1 "Syntax rules": main-term,
 * term, component, annotatable, simple-unit, exponent, factor, annotation; §2.2 prefixes and the
 * atom tables of ucum-essence). Syntax is checked exactly; atoms are checked against the common
 * UCUM atoms below, and an atom outside that list is reported separately (`unknownAtoms`) so the
 * caller can grade it below a syntax error: the table here is not the whole of ucum-essence.
 */

export interface UcumResult { ok: boolean; error?: string; position?: number; unknownAtoms: string[] }

const PREFIXES = ['Y', 'Z', 'E', 'P', 'T', 'G', 'M', 'k', 'h', 'da', 'd', 'c', 'm', 'u', 'n', 'p', 'f', 'a', 'z', 'y', 'Ki', 'Mi', 'Gi', 'Ti'];

/** Metric atoms (may take a prefix): base units and the metric derived units of ucum-essence. */
const METRIC = new Set(('m s g rad K C cd mol sr Hz N Pa J W A V F Ohm S Wb Cel T H lm lx Bq Gy Sv l L ar t bar u eV pc [c] [h] [k] ' +
  "[eps_0] [mu_0] [e] [m_e] [m_p] [G] [g] [ly] gf Ky Gal dyn erg P Bi St Mx G Oe Gb sb Lmb ph Ci R RAD REM cal [iU] [IU] eq osm " +
  "g% B B[SPL] B[V] B[mV] B[uV] B[10.nV] B[W] B[kW] Np st mho bit By Bd U kat m[H2O] m[Hg] tex [CCID_50] [TCID_50] [EID_50] [PFU] [FFU] [CFU] " +
  "[BAU] [AU] [Amb'a'1'U] [PNU] [Lf] [D'ag'U] [FEU] [ELU] [EU] [S] [HPF] [LPF] b [psi]").split(' '));

/** Non-metric atoms (no prefix). */
const NON_METRIC = new Set(("10* 10^ [pi] % [ppth] [ppm] [ppb] [pptr] gon deg ' '' min h d a_t a_j a_g a wk mo_s mo_j mo_g mo " +
  '[in_i] [ft_i] [yd_i] [mi_i] [fth_i] [nmi_i] [kn_i] [sin_i] [sft_i] [syd_i] [cin_i] [cft_i] [cyd_i] [bf_i] [cr_i] [mil_i] [cml_i] [hd_i] ' +
  '[ft_us] [yd_us] [in_us] [rd_us] [ch_us] [lk_us] [rch_us] [rlk_us] [fth_us] [fur_us] [mi_us] [acr_us] [srd_us] [smi_us] [sct] [twp] [mil_us] ' +
  '[in_br] [ft_br] [rd_br] [ch_br] [lk_br] [fth_br] [pc_br] [yd_br] [mi_br] [nmi_br] [kn_br] [acr_br] [gal_us] [bbl_us] [qt_us] [pt_us] ' +
  '[gil_us] [foz_us] [fdr_us] [min_us] [crd_us] [bu_us] [gal_wi] [pk_us] [dqt_us] [dpt_us] [tbs_us] [tsp_us] [cup_us] [foz_m] [cup_m] ' +
  '[tsp_m] [tbs_m] [gal_br] [pk_br] [bu_br] [qt_br] [pt_br] [gil_br] [foz_br] [fdr_br] [min_br] [gr] [lb_av] [oz_av] [dr_av] [scwt_av] ' +
  '[lcwt_av] [ston_av] [lton_av] [stone_av] [pwt_tr] [oz_tr] [lb_tr] [sc_ap] [dr_ap] [oz_ap] [lb_ap] [oz_m] [lne] [pnt] [pca] [pnt_pr] ' +
  '[pca_pr] [pied] [pouce] [ligne] [didot] [cicero] [degF] [degR] [degRe] cal_[15] cal_[20] cal_m cal_IT cal_th [Cal] [Btu_39] [Btu_59] ' +
  "[Btu_60] [Btu_m] [Btu_IT] [Btu_th] [Btu] [HP] [den] [in_i'H2O] [in_i'Hg] [PRU] [wood'U] [diop] [p'diop] %[slope] [mesh_i] [Ch] [drp] " +
  "[hnsf'U] [MET] [hp'_X] [hp'_C] [hp'_M] [hp'_Q] [hp_X] [hp_C] [hp_M] [hp_Q] [kp_X] [kp_C] [kp_M] [kp_Q] [pH] [arb'U] [USP'U] [GPL'U] " +
  "[MPL'U] [APL'U] [beth'U] [anti'Xa'U] [todd'U] [dye'U] [smgy'U] [bdsk'U] [ka'U] [knk'U] [mclg'U] [tb'U] [IR] [car_m] [car_Au] [smoot] " +
  '[m/s2/Hz^(1/2)] bit_s Ao att circ sph [lton_av] atm [lbf_av] [iU]').split(' '));

/** Whether `sym` is a known atom, alone or after a prefix (metric atoms only take prefixes). */
export function knownUnitSymbol(sym: string): boolean {
  if (METRIC.has(sym) || NON_METRIC.has(sym)) return true;
  for (const p of PREFIXES) if (sym.length > p.length && sym.startsWith(p) && METRIC.has(sym.slice(p.length))) return true;
  return false;
}

class Syntax extends Error { constructor(msg: string, readonly pos: number) { super(msg); } }

/** Check a UCUM code (case-sensitive form, `c/s`). */
export function checkUcum(code: string): UcumResult {
  const unknownAtoms: string[] = [];
  let i = 0;
  const n = code.length;
  const fail = (msg: string): never => { throw new Syntax(msg, i); };
  const annotation = (): void => {
    const start = i++;
    while (i < n && code[i] !== '}') {
      const c = code.charCodeAt(i);
      if (c < 33 || c > 126 || code[i] === '{') fail(`invalid character in annotation at position ${i + 1}`);
      i++;
    }
    if (i >= n) { i = start; fail(`unterminated annotation starting at position ${start + 1}`); }
    i++;
  };
  const simpleUnit = (): void => {
    const start = i;
    while (i < n && !'./(){}'.includes(code[i]!)) {
      if (code[i] === '[') {
        const close = code.indexOf(']', i);
        if (close < 0) fail(`unterminated '[' at position ${i + 1}`);
        i = close + 1;
      } else {
        const c = code.charCodeAt(i);
        if (c < 33 || c > 126 || code[i] === ']') fail(`invalid character '${code[i]!}' at position ${i + 1}`);
        i++;
      }
    }
    const text = code.slice(start, i);
    if (/^\d+$/.test(text)) return; // factor
    const m = /^(.*?)([+-]?\d+)$/.exec(text);
    let sym = text;
    // an exponent only follows a symbol; "10*" / "10^" end in the operator, digits after it are the exponent
    if (m && m[1] && !/^\d+$/.test(m[1]) && !knownUnitSymbol(text)) sym = m[1];
    if (/^[+-]/.test(sym) || /[+-]$/.test(sym)) { i = start; fail(`misplaced sign in '${text}' at position ${start + 1}`); }
    if (!knownUnitSymbol(sym)) unknownAtoms.push(sym);
  };
  const component = (): void => {
    if (i >= n) fail(`unit expected at position ${i + 1} (end of text)`);
    const c = code[i]!;
    if (c === '(') {
      i++;
      term();
      if (code[i] !== ')') fail(`')' expected at position ${i + 1}`);
      i++;
    } else if (c === '{') {
      annotation();
      return;
    } else if (c === ')' || c === '.' || c === '/' || c === '}') {
      fail(`unexpected '${c}' at position ${i + 1}`);
    } else {
      simpleUnit();
    }
    if (code[i] === '{') annotation();
  };
  const term = (): void => {
    component();
    while (i < n && (code[i] === '.' || code[i] === '/')) { i++; component(); }
  };
  try {
    if (n === 0) return { ok: false, error: 'empty unit', position: 1, unknownAtoms };
    if (code[0] === '/') i++;
    term();
    if (i < n) fail(`unexpected '${code[i]!}' at position ${i + 1}`);
    return { ok: true, unknownAtoms };
  } catch (e) {
    if (e instanceof Syntax) return { ok: false, error: e.message, position: e.pos + 1, unknownAtoms };
    throw e;
  }
}
