// Reads multi-document YAML as kubectl does (YAML 1.1) in time that grows with the text, not faster:
// flow collections nested past a bound are refused before the parser's cost climbs with their depth,
// and duplicate keys are found with one set per mapping rather than the YAML library's pairwise check.
// Keys must be text, numbers or booleans, as JSON (and kubectl) need.

import {
  Composer,
  type CST,
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  type Document as ParsedDocument,
  Parser,
  type Tags,
} from 'yaml';
import { OutpostError } from '../model/errors.ts';

export interface YamlDocument {
  value: unknown;
  /** the line the document's contents start on */
  line: number;
  /** the line of the node at a path in this document, or the document's own line */
  lineOf: (path: readonly string[]) => number;
}

/** Deeper `[`/`{` nesting is refused: no manifest needs it, and the parser slows with depth squared. */
export const maxFlowDepth = 256;

/**
 * YAML 1.1 types with no JSON form are read as the text they are written as, as kubectl reads them:
 * the library made a Date of `2001-12-14`, 750 of `12:30`, and a Map, Set or Buffer of `!!omap`,
 * `!!set` and `!!binary`, which a manifest then carried as `{}` or a different string.
 */
function jsonTypesOnly(tags: Tags): Tags {
  const noJsonForm = ['binary', 'omap', 'pairs', 'set', 'timestamp'].map((t) => `tag:yaml.org,2002:${t}`);
  return tags.filter((t) => typeof t === 'string' || (!noJsonForm.includes(t.tag) && t.format !== 'TIME'));
}

function invalid(message: string, file: string, at: { line: number; col?: number }): OutpostError {
  return new OutpostError('manifest_invalid', `invalid YAML: ${message}`, {
    file,
    line: at.line,
    ...(at.col !== undefined ? { column: at.col } : {}),
  });
}

function* boundedTokens(text: string, lineCounter: LineCounter, file: string): Generator<CST.Token> {
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0);
  let depth = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (lexeme === '[' || lexeme === '{') {
      depth += 1;
      if (depth > maxFlowDepth) {
        throw invalid(
          `collections nested deeper than ${maxFlowDepth} levels`,
          file,
          lineCounter.linePos(parser.offset),
        );
      }
    } else if (lexeme === ']' || lexeme === '}') {
      depth = Math.max(0, depth - 1);
    }
    yield* parser.next(lexeme);
  }
  yield* parser.end();
}

type JsonProblem = { message: string; at: number };

/**
 * The first key or value JSON cannot hold: a key written twice in a mapping (keys compare as JSON sees
 * them), a key that is itself a list or mapping (kubectl refuses it; the YAML library would stringify
 * it), or `.inf` / `.nan` (kubectl refuses them; JSON would carry them as null).
 */
function jsonProblem(
  doc: ParsedDocument.Parsed,
  lineOf: (offset: number) => number,
): JsonProblem | undefined {
  const pending: unknown[] = [doc.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isScalar(node) && typeof node.value === 'number' && !Number.isFinite(node.value)) {
      return {
        message: `${node.source ?? node.value} is a number JSON cannot hold`,
        at: node.range?.[0] ?? 0,
      };
    }
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
        if (isScalar(key)) {
          // a YAML 1.1 merge key (`<<`) may repeat, and what it merges may be overridden
          if (typeof key.value !== 'symbol') {
            const name = String(key.value);
            const at = key.range?.[0] ?? 0;
            const first = seen.get(name);
            if (first !== undefined) {
              const message = `key ${JSON.stringify(name)} appears twice in one mapping (first on line ${lineOf(first)})`;
              return { message, at };
            }
            seen.set(name, at);
          }
        } else if (isCollection(key)) {
          const at = (isAlias(pair.key) ? pair.key : key).range?.[0] ?? 0;
          return { message: 'a mapping key is a list or a mapping; keys are text', at };
        }
        pending.push(pair.value);
      }
    } else if (isSeq(node)) {
      pending.push(...node.items);
    }
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/**
 * Every non-empty document of a YAML file as JSON values, each with its line. Throws OutpostError
 * manifest_invalid naming the file and line of the first problem.
 */
export function readYamlDocuments(file: { path: string; content: string }): YamlDocument[] {
  const lineCounter = new LineCounter();
  const composer = new Composer({ version: '1.1', uniqueKeys: false, customTags: jsonTypesOnly });
  const out: YamlDocument[] = [];
  for (const doc of composer.compose(boundedTokens(file.content, lineCounter, file.path))) {
    const error = doc.errors[0];
    if (error) throw invalid(firstLine(error.message), file.path, lineCounter.linePos(error.pos[0]));
    const problem = jsonProblem(doc, (offset) => lineCounter.linePos(offset).line);
    if (problem) throw invalid(problem.message, file.path, lineCounter.linePos(problem.at));
    if (doc.contents === null) continue; // an empty document, e.g. after a trailing '---'
    const line = lineCounter.linePos(doc.contents.range?.[0] ?? 0).line;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      throw invalid(firstLine(String((e as Error).message)), file.path, { line });
    }
    if (value === null || value === undefined) continue;
    const lineOf = (path: readonly string[]): number => {
      const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      return node?.range ? lineCounter.linePos(node.range[0]).line : line;
    };
    out.push({ value, line, lineOf });
  }
  return out;
}
