/**
 * Narrative XHTML rules (FHIR R4 §2.4.0 Narrative, txt-1/txt-2): a single `div` in the XHTML
 * namespace, only the basic HTML 4.0 formatting elements and attributes, no scripts, event
 * handlers or active content, and only XML's predefined or numeric entities (the JSON form is XML
 * text, so `&reg;` is undefined). A light tag scan, not a full XML parser.
 */

export interface XhtmlProblem { messageId: string; message: string; key?: string }

const ELEMENTS = new Set([
  'p', 'br', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'a', 'span', 'b', 'em', 'i', 'strong', 'small', 'big', 'tt',
  'small', 'dfn', 'q', 'var', 'abbr', 'acronym', 'cite', 'blockquote', 'hr', 'address', 'bdo', 'kbd', 'samp', 'sub',
  'sup', 'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'pre', 'table', 'caption', 'colgroup', 'col', 'thead', 'tr', 'tfoot',
  'tbody', 'th', 'td', 'code', 'img', 'ins', 'del', 'u', 's', 'font', 'center', 'strike', 'label', 'section',
  'article', 'header', 'footer', 'nav', 'figure', 'figcaption', 'main', 'aside',
]);
const ATTRS = new Set([
  'title', 'style', 'class', 'id', 'lang', 'xml:lang', 'dir', 'accesskey', 'tabindex', 'href', 'name', 'src',
  'alt', 'colspan', 'rowspan', 'span', 'width', 'height', 'border', 'cellpadding', 'cellspacing', 'align',
  'valign', 'char', 'charoff', 'abbr', 'axis', 'headers', 'scope', 'summary', 'frame', 'rules', 'start', 'type',
  'value', 'cite', 'datetime', 'xmlns', 'color', 'size', 'face', 'compact', 'nowrap', 'bgcolor', 'hspace',
  'vspace', 'longdesc', 'usemap', 'ismap', 'shape', 'coords', 'hreflang', 'rel', 'rev', 'charset', 'target',
]);
const ENTITY = /&(#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);/y;

export function checkXhtml(div: string): XhtmlProblem[] {
  const out: XhtmlProblem[] = [];
  if (!/^\s*<div[\s>/]/.test(div)) out.push({ messageId: 'XHTML_XHTML_Name_Invalid', message: 'Wrong name on the XHTML (\'div\' expected)' });
  const ns = /^\s*<div\b([^>]*)>/.exec(div)?.[1] ?? '';
  if (!/xmlns\s*=\s*["']http:\/\/www\.w3\.org\/1999\/xhtml["']/.test(ns)) {
    out.push({ messageId: 'XHTML_XHTML_NS_InValid', message: "Wrong namespace on the XHTML ('http://www.w3.org/1999/xhtml' expected)" });
  }
  const tag = /<\s*([A-Za-z][\w:-]*)([^>]*)>/g;
  for (let m = tag.exec(div); m; m = tag.exec(div)) {
    const name = m[1]!.toLowerCase();
    if (!ELEMENTS.has(name)) {
      out.push({ messageId: 'XHTML_XHTML_Element_Illegal', message: `Invalid element name in the XHTML ('${name.slice(0, 30)}')`, key: 'txt-1' });
      continue;
    }
    const attr = /([A-Za-z_][\w:.-]*)\s*=\s*("[^"]*"|'[^']*')/g;
    for (let a = attr.exec(m[2]!); a; a = attr.exec(m[2]!)) {
      const an = a[1]!.toLowerCase();
      if (!ATTRS.has(an) && !an.startsWith('xmlns')) {
        out.push({ messageId: 'XHTML_XHTML_Attribute_Illegal', message: `Invalid attribute name in the XHTML ('${an.slice(0, 30)}' on '${name}')`, key: 'txt-1' });
      } else if ((an === 'href' || an === 'src') && /^\s*javascript:/i.test(a[2]!.slice(1, -1))) {
        out.push({ messageId: 'XHTML_XHTML_Attribute_Illegal', message: 'Active content (javascript:) is not allowed in the XHTML', key: 'txt-1' });
      }
    }
  }
  for (let i = div.indexOf('&'); i >= 0; i = div.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(div)) {
      const ent = /^&[^;\s]{0,20};?/.exec(div.slice(i))?.[0] ?? '&';
      out.push({ messageId: 'XHTML_XHTML_Entity_Illegal', message: `Invalid entity in the XHTML ('${ent}')` });
    }
    if (out.length > 20) break;
  }
  return out;
}
