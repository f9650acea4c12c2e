// The one error type that crosses every Outpost boundary: a stable machine-readable code, a message a
// person can act on, and where it applies (file and line of a manifest, or a site).

export type ErrorCode =
  | 'request_invalid'
  | 'manifest_invalid'
  | 'bundle_invalid'
  | 'release_invalid'
  | 'selector_invalid'
  | 'render_failed'
  | 'source_failed'
  | 'signature_invalid'
  | 'query_invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'registration_refused'
  | 'csr_invalid'
  | 'pending_approval'
  | 'unavailable'
  /** the site's agent turns troubleshooting tunnels away by its configuration */
  | 'tunnel_refused'
  | 'internal';

export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
}

export interface OutpostErrorBody {
  error: { code: string; message: string } & ErrorLocation & { site?: string };
}

export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;
  readonly site?: string;

  constructor(code: ErrorCode, message: string, where: ErrorLocation & { site?: string } = {}) {
    super(message);
    this.name = 'OutpostError';
    this.code = code;
    const { site, ...location } = where;
    this.location = location;
    if (site !== undefined) this.site = site;
  }

  /** The HTTP status that carries this code on the wire. */
  get status(): number {
    return statusOf(this.code);
  }

  toBody(): OutpostErrorBody {
    const where = this.site === undefined ? this.location : { ...this.location, site: this.site };
    return { error: { code: this.code, message: this.message, ...where } };
  }
}

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'request_invalid':
    case 'csr_invalid':
    case 'manifest_invalid':
    case 'bundle_invalid':
    case 'release_invalid':
    case 'selector_invalid':
    case 'render_failed':
    case 'query_invalid':
    case 'signature_invalid':
      return 400;
    case 'source_failed':
      return 502;
    case 'unauthorized':
      return 401;
    case 'forbidden':
    case 'registration_refused':
    case 'tunnel_refused':
      return 403;
    case 'not_found':
      return 404;
    case 'pending_approval':
      return 409;
    case 'conflict':
      return 409;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
  }
}

/** Formats `file:line: message` the way compilers do, so editors can jump to it. */
export function describeError(err: OutpostError): string {
  const { file, line } = err.location;
  const where = file ? `${file}${line ? `:${line}` : ''}: ` : '';
  return `${where}${err.message} (${err.code})`;
}
