import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../../common/repoRoot';

const root = repoRoot();
const compilerOptions: ts.CompilerOptions = {
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  resolveJsonModule: true,
};

interface ImportGraph {
  /** Repo files reached, each with the file that first imported it (the entry has none). */
  readonly files: Map<string, string | undefined>;
  /** Packages imported by a reached repo file, each with the first file that imported it. */
  readonly packages: Map<string, string>;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * Every file and package that loading `entry` can load, type-only imports included: what a service
 * embedding the SDK would have to ship.
 */
function importGraph(entry: string): ImportGraph {
  const files = new Map<string, string | undefined>([[entry, undefined]]);
  const packages = new Map<string, string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      const resolved = ts.resolveModuleName(specifier, file, compilerOptions, ts.sys).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) {
        const name = packageName(specifier);
        if (!packages.has(name)) packages.set(name, file);
        continue;
      }
      if (files.has(resolved.resolvedFileName)) continue;
      files.set(resolved.resolvedFileName, file);
      pending.push(resolved.resolvedFileName);
    }
  }
  return { files, packages };
}

/** How the entry reaches a file: entry → … → file, relative to the repo. */
function chain(graph: ImportGraph, file: string): string {
  const steps: string[] = [];
  for (let at: string | undefined = file; at !== undefined; at = graph.files.get(at)) {
    steps.unshift(path.relative(root, at));
  }
  return steps.join(' → ');
}

/** What a published SDK package holds: the SDK, the shared vocabulary and the generated protos. */
const SDK_FOLDERS = ['sdk', 'common', 'gen'];
const CONTROL_PLANE_PACKAGES = [/^@temporalio\//, /^express$/, /^@aws-sdk\/client-(dynamodb|ssm)$/];

describe("the SDK's import graph", () => {
  const graph = importGraph(path.join(root, 'sdk', 'index.ts'));

  test('contains no file of server/, activities/ or workflows/: only sdk/, common/ and gen/', () => {
    const outside = [...graph.files.keys()]
      .filter((file) => !SDK_FOLDERS.includes(path.relative(root, file).split(path.sep)[0] ?? ''))
      .map((file) => chain(graph, file));
    expect(outside).toEqual([]);
    // The walk itself works: it reaches the files the SDK is made of.
    expect(graph.files.has(path.join(root, 'sdk', 'refreshServer.ts'))).toBe(true);
    expect(graph.files.has(path.join(root, 'common', 'errors.ts'))).toBe(true);
  });

  test('imports no Temporal, express, DynamoDB or Parameter Store package', () => {
    const forbidden = [...graph.packages]
      .filter(([name]) => CONTROL_PLANE_PACKAGES.some((pattern) => pattern.test(name)))
      .map(([name, importer]) => `${name} ← ${chain(graph, importer)}`);
    expect(forbidden).toEqual([]);
    expect(graph.packages.has('@grpc/grpc-js')).toBe(true);
  });

  test("traces through OpenTelemetry's API alone: the embedding service chooses the SDK and exporter", () => {
    const openTelemetry = [...graph.packages.keys()].filter((name) => name.startsWith('@opentelemetry/'));
    expect(openTelemetry).toEqual(['@opentelemetry/api']);
  });
});
