import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../common/repoRoot';

// The manual is spread over README.md, docs/ and a README beside each part: a moved section or a
// renamed heading must not leave a link a reader follows into nothing.

const root = repoRoot();
const IGNORED_FOLDERS = ['node_modules', '.tools', '.local', 'dist', 'gen'];
const README_MAX_LINES = 260;

/** The checkout's markdown files: tracked, or new and not ignored, outside installed and generated folders. */
function markdownFiles(): string[] {
  const listed = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.md'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return [...new Set(listed.split('\n').filter(Boolean))]
    .filter((file) => !file.split('/').some((part) => IGNORED_FOLDERS.includes(part)))
    .filter((file) => existsSync(path.join(root, file)))
    .sort();
}

/** The lines a reader sees as prose: fenced code blocks are blanked, so their brackets are no links. */
function proseLines(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, each space a '-'. */
function githubSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file's headings make; a repeated heading gets -1, -2, … as on GitHub. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

interface Link {
  readonly line: number;
  readonly target: string;
}

/** Inline links and images, and reference definitions, outside code; inline code spans are not links. */
function linksIn(markdown: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown).forEach((text, index) => {
    const prose = text.replace(/`[^`]*`/g, '``');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (match[1]) links.push({ line: index + 1, target: match[1] });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(prose)?.[1];
    if (definition) links.push({ line: index + 1, target: definition });
  });
  return links;
}

/** Why a relative link does not lead anywhere, or undefined when it does (links to the web are not checked). */
function brokenBecause(fromFile: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  const hash = target.indexOf('#');
  const rawPath = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : target.slice(hash + 1);
  const file = rawPath === '' ? fromFile : path.join(path.dirname(fromFile), decodeURIComponent(rawPath));
  const absolute = path.join(root, file);
  if (!absolute.startsWith(root + path.sep) && absolute !== root) return 'points outside the checkout';
  if (!existsSync(absolute)) return `${file} does not exist`;
  if (anchor === undefined || !file.endsWith('.md')) return undefined;
  const anchors = headingAnchors(readFileSync(absolute, 'utf8'));
  return anchors.has(anchor) ? undefined : `${file} has no heading whose anchor is #${anchor}`;
}

const files = markdownFiles();

test('the markdown files checked include the front door and the manual beside it', () => {
  expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/rollout-model.md', 'sdk/README.md']));
});

test.each(files)(
  'every relative link in %s points to a file or folder that exists, and each #anchor to a heading there',
  (file) => {
    const broken = linksIn(readFileSync(path.join(root, file), 'utf8')).flatMap(({ line, target }) => {
      const reason = brokenBecause(file, target);
      return reason === undefined ? [] : [`${file}:${line}: ${target}: ${reason}`];
    });
    expect(broken).toEqual([]);
  },
);

test(`README.md is a front door of at most ${README_MAX_LINES} lines`, () => {
  const lines = readFileSync(path.join(root, 'README.md'), 'utf8').trimEnd().split('\n').length;
  expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
});

test("a heading's anchor follows GitHub's slug rule, and a repeated heading is numbered", () => {
  expect(githubSlug('Reconciler: convergence whatever was lost')).toBe(
    'reconciler-convergence-whatever-was-lost',
  );
  expect(githubSlug("Issue 10's goals, as `npm run bench:all` measured them")).toBe(
    'issue-10s-goals-as-npm-run-benchall-measured-them',
  );
  expect(githubSlug('See [the SDK](sdk/README.md) now')).toBe('see-the-sdk-now');
  expect([...headingAnchors('# Measured\n\n```\n# not a heading\n```\n## Measured\n### Measured\n')]).toEqual(
    ['measured', 'measured-1', 'measured-2'],
  );
});

test('links inside code are not links, and a link beside inline code is', () => {
  const markdown = [
    'See [the API](docs/api.md#errors) and `[not](a-link.md)`.',
    '```ts',
    'const waves = [1](nowhere.md);',
    '```',
    '[ref]: deploy/README.md',
  ].join('\n');
  expect(linksIn(markdown)).toEqual([
    { line: 1, target: 'docs/api.md#errors' },
    { line: 5, target: 'deploy/README.md' },
  ]);
});
