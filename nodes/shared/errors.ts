/** Node-side errors: the lib's `NhsError` (own `code`, seen by Catch nodes as `msg.error.code`). */
export { NhsError, hasCode, toNhsError } from '../../lib/errors';
