// Per-site values in manifests: `${site.name}`, `${site.labels.region}`, `${site.properties.storeId}`
// and `${values.replicas}`, substituted into parsed YAML scalars so a value can never break structure.
// A scalar that is exactly one placeholder takes the value with its type (a number stays a number);
// inside a longer string the value is stringified. `$${` writes a literal `${`; any other `${…}` is text.

export type Scope = {
  site: {
    name: string;
    labels: Readonly<Record<string, string>>;
    properties: Readonly<Record<string, unknown>>;
  };
  values: Readonly<Record<string, unknown>>;
};

export interface Placeholder {
  /** as written, e.g. `${site.labels.region}` */
  text: string;
  /** e.g. ['site', 'labels', 'region'] */
  path: string[];
}

/** A string split into literal text and placeholders. */
export type Template = Array<string | Placeholder>;

export class PlaceholderError extends Error {
  override name = 'PlaceholderError';
}

const ident = /^[A-Za-z_][A-Za-z0-9_-]*/;
// Only `${site…}` and `${values…}` are placeholders: other `${…}` (a shell script in a ConfigMap, say)
// is text and passes through untouched.
const placeholderStart = /^\s*(site|values)(?![A-Za-z0-9_-])/;

/** The key inside `["…"]`, its escapes read as JSON's. */
function unquote(escaped: string, text: string): string {
  try {
    return JSON.parse(`"${escaped}"`) as string;
  } catch {
    throw new PlaceholderError(
      `${text}: a quoted key takes JSON escapes (\\\\, \\", \\u0041), not "${escaped}"`,
    );
  }
}

/** Parses `site.labels["example.com/tier"]` into its segments. */
function parsePath(expr: string, text: string): string[] {
  const path: string[] = [];
  let rest = expr.trim();
  const first = ident.exec(rest);
  if (!first) throw new PlaceholderError(`${text}: expected a name such as site.labels.region`);
  path.push(first[0]);
  rest = rest.slice(first[0].length);
  while (rest.length > 0) {
    if (rest[0] === '.') {
      const m = ident.exec(rest.slice(1));
      if (!m) throw new PlaceholderError(`${text}: expected a name after "."`);
      path.push(m[0]);
      rest = rest.slice(1 + m[0].length);
    } else if (rest[0] === '[') {
      const m = /^\[\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*\]/.exec(rest);
      if (!m) throw new PlaceholderError(`${text}: expected ["key"] or ['key']`);
      path.push(m[1] !== undefined ? unquote(m[1], text) : m[2]!);
      rest = rest.slice(m[0].length);
    } else {
      throw new PlaceholderError(`${text}: unexpected "${rest[0]}"`);
    }
  }
  return path;
}

/** Problems with what a placeholder names, knowable without a site (an unknown root, say). */
function pathProblem(path: readonly string[], text: string): string | undefined {
  const [root, second] = path;
  if (root === 'values')
    return path.length < 2 ? `${text}: name a value, e.g. \${values.replicas}` : undefined;
  if (root !== 'site')
    return `${text}: unknown name "${root}"; use site.name, site.labels.*, site.properties.* or values.*`;
  if (second === 'name') return path.length === 2 ? undefined : `${text}: site.name has no fields`;
  if (second === 'labels')
    return path.length === 3 ? undefined : `${text}: name one label, e.g. \${site.labels.region}`;
  if (second === 'properties')
    return path.length >= 3 ? undefined : `${text}: name a property, e.g. \${site.properties.storeId}`;
  return `${text}: unknown site field "${second ?? ''}"; use site.name, site.labels.* or site.properties.*`;
}

/**
 * Splits a string into literal text and placeholders; undefined when it holds none (the common case,
 * kept cheap). Throws PlaceholderError for an unterminated or malformed placeholder.
 */
export function parseTemplate(s: string): Template | undefined {
  if (!s.includes('${')) return undefined;
  const out: Template = [];
  let literal = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      literal += '${';
      i += 3;
    } else if (s.startsWith('${', i) && placeholderStart.test(s.slice(i + 2, i + 2 + 64))) {
      const end = s.indexOf('}', i + 2);
      if (end < 0)
        throw new PlaceholderError(`unterminated placeholder in "${s}" (write $\${ for a literal \${)`);
      const text = s.slice(i, end + 1);
      const path = parsePath(s.slice(i + 2, end), text);
      const problem = pathProblem(path, text);
      if (problem) throw new PlaceholderError(problem);
      if (literal) out.push(literal);
      literal = '';
      out.push({ text, path });
      i = end + 1;
    } else {
      literal += s[i];
      i += 1;
    }
  }
  if (literal) out.push(literal);
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The value a placeholder names in a scope, or undefined when the site or values lack it. */
export function lookup(path: readonly string[], scope: Scope): unknown {
  let at: unknown = scope;
  for (const key of path) {
    if (!isRecord(at) || !Object.hasOwn(at, key)) return undefined;
    at = at[key];
  }
  return at;
}

function missing(p: Placeholder, scope: Scope): string {
  const [root, field, ...rest] = p.path;
  if (root === 'values')
    return `${p.text}: no value ${p.path.slice(1).join('.')} for site ${scope.site.name}`;
  const what = field === 'labels' ? 'label' : 'property';
  return `${p.text}: site ${scope.site.name} has no ${what} ${JSON.stringify(rest.join('.'))}`;
}

function stringify(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The value of a template in a scope: typed when it is exactly one placeholder, else a string. */
export function renderTemplate(t: Template, scope: Scope): unknown {
  if (t.length === 1 && typeof t[0] !== 'string') {
    const v = lookup(t[0]!.path, scope);
    if (v === undefined) throw new PlaceholderError(missing(t[0]!, scope));
    return v;
  }
  let out = '';
  for (const piece of t) {
    if (typeof piece === 'string') {
      out += piece;
      continue;
    }
    const v = lookup(piece.path, scope);
    if (v === undefined) throw new PlaceholderError(missing(piece, scope));
    out += stringify(v);
  }
  return out;
}

/** `spec.template.spec.containers[0].image`: how a field is named in messages. */
export function fieldPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

export interface FoundPlaceholder {
  /** where in the document: keys and indexes */
  at: (string | number)[];
  placeholders: Placeholder[];
}

/** Every string (map keys included) holding placeholders, with where it is; throws on a malformed one. */
export function findPlaceholders(node: unknown, at: (string | number)[] = []): FoundPlaceholder[] {
  const out: FoundPlaceholder[] = [];
  const visit = (v: unknown, path: (string | number)[]) => {
    if (typeof v === 'string') {
      const t = withPath(() => parseTemplate(v), path);
      if (t) out.push({ at: path, placeholders: t.filter((p): p is Placeholder => typeof p !== 'string') });
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => {
        visit(item, [...path, i]);
      });
    } else if (isRecord(v)) {
      for (const [k, item] of Object.entries(v)) {
        const t = withPath(() => parseTemplate(k), [...path, k]);
        if (t)
          out.push({
            at: [...path, k],
            placeholders: t.filter((p): p is Placeholder => typeof p !== 'string'),
          });
        visit(item, [...path, k]);
      }
    }
  };
  visit(node, at);
  return out;
}

/** A placeholder error that knows which field it is in. */
export class FieldError extends Error {
  override name = 'FieldError';
  readonly at: (string | number)[];
  constructor(message: string, at: (string | number)[]) {
    super(message);
    this.at = at;
  }
}

function withPath<T>(f: () => T, at: (string | number)[]): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PlaceholderError) throw new FieldError(e.message, at);
    throw e;
  }
}

/**
 * Substitutes every placeholder in a JSON tree, returning a new tree (the input is not changed).
 * Map keys are substituted as strings. Throws FieldError naming the field of the first failure.
 */
export function substitute(node: unknown, scope: Scope, at: (string | number)[] = []): unknown {
  if (typeof node === 'string') {
    const t = withPath(() => parseTemplate(node), at);
    return t ? withPath(() => renderTemplate(t, scope), at) : node;
  }
  if (Array.isArray(node)) return node.map((item, i) => substitute(item, scope, [...at, i]));
  if (isRecord(node)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      const t = withPath(() => parseTemplate(k), [...at, k]);
      const key = t ? stringify(withPath(() => renderTemplate(t, scope), [...at, k])) : k;
      if (Object.hasOwn(out, key))
        throw new FieldError(`key ${JSON.stringify(key)} appears twice after substitution`, [...at, k]);
      // defineProperty keeps a `__proto__` key as data, as the YAML parser produced it
      Object.defineProperty(out, key, {
        value: substitute(v, scope, [...at, k]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return node;
}
