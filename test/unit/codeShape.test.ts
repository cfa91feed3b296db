import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The workflow is read as its story: each function a page at most. Measured with the compiler's own
 * parse, so a long arrow function or method counts as much as a declaration.
 */
const MAX_FUNCTION_LINES = 80;
const WORKFLOWS = path.join(__dirname, '..', '..', 'workflows');

interface LongFunction {
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

/** Every function in `source` spanning `limit` lines or more, named as a reader would look it up. */
function longFunctions(fileName: string, source: string, limit: number): LongFunction[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines >= limit) found.push({ name: nameOf(node), line: start + 1, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** A declaration's own name, else the variable or property an anonymous function is assigned to. */
function nameOf(node: ts.SignatureDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.name)
    return parent.name.getText();
  return `(anonymous ${ts.SyntaxKind[node.kind]})`;
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

test(`no function in workflows/ spans ${MAX_FUNCTION_LINES} lines or more`, () => {
  const offenders = typeScriptFiles(WORKFLOWS).flatMap((file) =>
    longFunctions(file, readFileSync(file, 'utf8'), MAX_FUNCTION_LINES).map(
      ({ name, line, lines }) => `${path.relative(WORKFLOWS, file)}:${line} ${name} (${lines} lines)`,
    ),
  );
  expect(offenders).toEqual([]);
});

test('the measure counts every kind of function, names it, and draws the line at the limit', () => {
  const body = (lines: number) => Array.from({ length: lines - 2 }, (_, i) => `  step(${i});`).join('\n');
  const source = [
    `function declared() {\n${body(5)}\n}`,
    `const arrow = () => {\n${body(5)}\n};`,
    `const expressed = function () {\n${body(4)}\n};`,
    `class Holder {\n  method() {\n${body(5)}\n  }\n}`,
    `const object = { property: () => {\n${body(5)}\n} };`,
  ].join('\n');
  expect(longFunctions('sample.ts', source, 5).map(({ name, lines }) => `${name} ${lines}`)).toEqual([
    'declared 5',
    'arrow 5',
    'method 5',
    'property 5',
  ]);
});
