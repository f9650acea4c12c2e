// The PKI's one error type, with a stable code for each kind of unusable input, and the bridge that
// turns a failure of the DER reader (./der.ts) into it.

import { DerError } from './der.ts';

export type PkiErrorCode = 'csr_invalid' | 'certificate_invalid' | 'key_invalid';

/**
 * Every failure of the PKI. `csr_invalid`: a CSR (or createCsr's input) is unusable; `key_invalid`: a key is
 * malformed, not ECDSA P-256, or does not match its certificate; `certificate_invalid`: a certificate is malformed,
 * or the options asked of issueCertificate/createCa cannot make a valid one (names, dates, serial).
 */
export class PkiError extends Error {
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}

/** Runs `fn`, which reads DER; a DerError becomes a PkiError with `code`, its message prefixed by `what`. */
export function wrapDer<T>(code: PkiErrorCode, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DerError) throw new PkiError(code, `${what}: ${err.message}`, { cause: err });
    throw err;
  }
}
