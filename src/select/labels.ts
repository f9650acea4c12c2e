// Kubernetes label selectors for choosing which sites a rollout targets.
// Mirrors metav1.LabelSelectorAsSelector + labels.Selector.Matches so the hub and a cluster never disagree.

export type Labels = Readonly<Record<string, string>>;
export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}
export interface SelectorProblem {
  path: string;
  message: string;
}
export interface RequirementResult {
  requirement: string;
  matched: boolean;
}

const OPERATORS: readonly string[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

const QUALIFIED_NAME_MAX = 63;
const LABEL_VALUE_MAX = 63;
const DNS1123_SUBDOMAIN_MAX = 253;
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const NAME_RULE =
  'must be alphanumeric characters, "-", "_" or ".", starting and ending with an alphanumeric character';

/** Problems with a label key (apimachinery IsQualifiedName): `[prefix/]name`. */
function keyProblems(key: string): string[] {
  const parts = key.split('/');
  if (parts.length > 2) {
    return [
      `key "${key}" has more than one "/"; use an optional DNS subdomain prefix and a name, e.g. example.com/tier`,
    ];
  }
  const problems: string[] = [];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') {
      problems.push(`key "${key}" has an empty prefix before "/"`);
    } else {
      if (prefix.length > DNS1123_SUBDOMAIN_MAX) {
        problems.push(
          `key prefix "${prefix}" is ${prefix.length} characters; at most ${DNS1123_SUBDOMAIN_MAX} allowed`,
        );
      }
      if (!DNS1123_SUBDOMAIN_RE.test(prefix)) {
        problems.push(
          `key prefix "${prefix}" must be a DNS subdomain: lowercase alphanumerics, "-" and ".", each part starting and ending with an alphanumeric, e.g. example.com`,
        );
      }
    }
  }
  if (name === '') {
    problems.push(`key "${key}" has an empty name`);
    return problems;
  }
  if (name.length > QUALIFIED_NAME_MAX) {
    problems.push(`key name "${name}" is ${name.length} characters; at most ${QUALIFIED_NAME_MAX} allowed`);
  }
  if (!QUALIFIED_NAME_RE.test(name)) {
    problems.push(`key name "${name}" ${NAME_RULE}`);
  }
  return problems;
}

/** Problems with a label value (apimachinery IsValidLabelValue); the empty value is legal. */
function valueProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > LABEL_VALUE_MAX) {
    problems.push(`value "${value}" is ${value.length} characters; at most ${LABEL_VALUE_MAX} allowed`);
  }
  if (!LABEL_VALUE_RE.test(value)) {
    problems.push(`value "${value}" must be empty or ${NAME_RULE.replace(/^must be /, '')}`);
  }
  return problems;
}

// Bracket + JSON quoting keeps the path unambiguous for keys that contain "." or "/".
function keyPath(path: string, key: string): string {
  return `${path}[${JSON.stringify(key)}]`;
}

export function validateLabels(labels: Record<string, string>, path = 'labels'): SelectorProblem[] {
  const problems: SelectorProblem[] = [];
  for (const key of Object.keys(labels).sort()) {
    const at = keyPath(path, key);
    for (const message of keyProblems(key)) problems.push({ path: at, message });
    for (const message of valueProblems(labels[key]!)) problems.push({ path: at, message });
  }
  return problems;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const SELECTOR_FIELDS = ['matchLabels', 'matchExpressions'];
const REQUIREMENT_FIELDS = ['key', 'operator', 'values'];

/** Problems with the shape of a selector as written (YAML, JSON): a misspelt field would select every site. */
function shapeProblems(sel: Record<string, unknown>): SelectorProblem[] {
  const problems: SelectorProblem[] = [];
  for (const field of Object.keys(sel)) {
    if (!SELECTOR_FIELDS.includes(field)) {
      problems.push({
        path: field,
        message: `unknown field; a selector has ${SELECTOR_FIELDS.join(' and ')}`,
      });
    }
  }
  const { matchLabels, matchExpressions } = sel;
  if (matchLabels !== undefined) {
    if (!isRecord(matchLabels)) {
      problems.push({ path: 'matchLabels', message: 'must be a mapping of label keys to values' });
    } else {
      for (const [key, value] of Object.entries(matchLabels)) {
        if (typeof value !== 'string') {
          problems.push({
            path: keyPath('matchLabels', key),
            message: `value ${JSON.stringify(value) ?? String(value)} must be a string; quote it in YAML`,
          });
        }
      }
    }
  }
  if (matchExpressions !== undefined) {
    if (!Array.isArray(matchExpressions)) {
      problems.push({ path: 'matchExpressions', message: 'must be a list of {key, operator, values}' });
      return problems;
    }
    matchExpressions.forEach((expr: unknown, i) => {
      const at = `matchExpressions[${i}]`;
      if (!isRecord(expr)) {
        problems.push({ path: at, message: 'must be a mapping of key, operator and values' });
        return;
      }
      for (const field of Object.keys(expr)) {
        if (!REQUIREMENT_FIELDS.includes(field)) {
          problems.push({
            path: `${at}.${field}`,
            message: `unknown field; use ${REQUIREMENT_FIELDS.join(', ')}`,
          });
        }
      }
      if (typeof expr.key !== 'string') problems.push({ path: `${at}.key`, message: 'must be a string' });
      if (typeof expr.operator !== 'string') {
        problems.push({ path: `${at}.operator`, message: `must be one of ${OPERATORS.join(', ')}` });
      }
      if (
        expr.values !== undefined &&
        (!Array.isArray(expr.values) || expr.values.some((v) => typeof v !== 'string'))
      ) {
        problems.push({ path: `${at}.values`, message: 'must be a list of strings; quote numbers in YAML' });
      }
    });
  }
  return problems;
}

/**
 * Problems with a selector from anywhere (a bundle's YAML, a query, a rollout wave): wrong shapes and
 * unknown fields first, then keys, values and operators as Kubernetes checks them. Empty means valid.
 */
export function validateSelector(input: unknown): SelectorProblem[] {
  if (!isRecord(input)) {
    return [{ path: '', message: 'must be a mapping with matchLabels and/or matchExpressions' }];
  }
  const shape = shapeProblems(input);
  if (shape.length > 0) return shape;
  const sel = input as LabelSelector;
  const problems: SelectorProblem[] = validateLabels(sel.matchLabels ?? {}, 'matchLabels');
  (sel.matchExpressions ?? []).forEach((expr, i) => {
    const at = `matchExpressions[${i}]`;
    const values = expr.values ?? [];
    const op: string = expr.operator;
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) {
        problems.push({ path: `${at}.values`, message: `operator ${op} needs at least one value` });
      }
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length > 0) {
        problems.push({
          path: `${at}.values`,
          message: `operator ${op} takes no values; remove values or use ${op === 'Exists' ? 'In' : 'NotIn'}`,
        });
      }
    } else {
      problems.push({
        path: `${at}.operator`,
        message: `unknown operator ${JSON.stringify(op)}; use one of ${OPERATORS.join(', ')}`,
      });
    }
    for (const message of keyProblems(expr.key)) problems.push({ path: `${at}.key`, message });
    values.forEach((value, j) => {
      for (const message of valueProblems(value)) problems.push({ path: `${at}.values[${j}]`, message });
    });
  });
  return problems;
}

/** One ANDed requirement; `equals` marks those that came from matchLabels (rendered `k=v`). */
interface Requirement {
  key: string;
  operator: string;
  values: readonly string[];
  equals: boolean;
}

function requirementsOf(sel: LabelSelector): Requirement[] {
  const matchLabels = sel.matchLabels ?? {};
  const fromLabels = Object.keys(matchLabels)
    .sort()
    .map((key) => ({ key, operator: 'In', values: [matchLabels[key]!], equals: true }));
  const fromExpressions = (sel.matchExpressions ?? []).map((expr) => ({
    key: expr.key,
    operator: expr.operator as string,
    values: expr.values ?? [],
    equals: false,
  }));
  return [...fromLabels, ...fromExpressions];
}

// Selectors the apiserver would reject still get an answer, never an exception:
// - In with no values matches nothing, NotIn with no values matches everything (the plain set reading);
// - Exists/DoesNotExist ignore any values they carry;
// - an unknown operator matches nothing, failing closed because Kubernetes refuses to build such a selector.
// Key presence uses own properties only, so a site without a `constructor` label does not match `constructor`.
function requirementMatches(req: Requirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, req.key);
  switch (req.operator) {
    case 'In':
      return has && req.values.includes(labels[req.key]!);
    case 'NotIn':
      return !has || !req.values.includes(labels[req.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      return false;
  }
}

// Same shape as labels.Requirement.String(); values are sorted as Kubernetes does, so equal sets print alike.
function renderRequirement(req: Requirement): string {
  switch (req.operator) {
    case 'Exists':
      return req.key;
    case 'DoesNotExist':
      return `!${req.key}`;
    default: {
      if (req.equals) return `${req.key}=${req.values[0]}`;
      const values = [...req.values].sort().join(',');
      const op =
        req.operator === 'In' || req.operator === 'NotIn' ? req.operator.toLowerCase() : req.operator;
      return `${req.key} ${op} (${values})`;
    }
  }
}

export function matchesSelector(sel: LabelSelector, labels: Labels): boolean {
  return requirementsOf(sel).every((req) => requirementMatches(req, labels));
}

export function explainSelector(
  sel: LabelSelector,
  labels: Labels,
): { matched: boolean; requirements: RequirementResult[] } {
  const requirements = requirementsOf(sel).map((req) => ({
    requirement: renderRequirement(req),
    matched: requirementMatches(req, labels),
  }));
  return { matched: requirements.every((r) => r.matched), requirements };
}

/**
 * Requirements are ordered by key like labels.Selector.String(), so a selector prints the same however its
 * expressions were listed; ties keep matchLabels first, then the given order (Kubernetes leaves ties unordered).
 */
export function formatSelector(sel: LabelSelector): string {
  const reqs = requirementsOf(sel);
  const byKey = reqs
    .map((req, index) => ({ req, index }))
    .sort((a, b) => (a.req.key < b.req.key ? -1 : a.req.key > b.req.key ? 1 : a.index - b.index));
  return byKey.map(({ req }) => renderRequirement(req)).join(',');
}
