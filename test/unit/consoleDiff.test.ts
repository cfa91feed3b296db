import { diffText, lineDiff, MAX_DIFF_CELLS } from '../../console/src/diff';

/** The console's key-history diff: plain functions, no browser needed. */
test('a changed field shows as its old line removed then its new line added, the rest kept', () => {
  const lines = lineDiff(diffText('{"a":1,"b":2,"c":3}'), diffText('{"a":1,"b":5,"c":3}'));
  expect(lines).toEqual([
    { kind: 'same', text: '{' },
    { kind: 'same', text: '  "a": 1,' },
    { kind: 'removed', text: '  "b": 2,' },
    { kind: 'added', text: '  "b": 5,' },
    { kind: 'same', text: '  "c": 3' },
    { kind: 'same', text: '}' },
  ]);
});

test('text values are diffed line by line, as written', () => {
  expect(lineDiff(diffText('one\ntwo'), diffText('one\ntwo\nthree'))).toEqual([
    { kind: 'same', text: 'one' },
    { kind: 'same', text: 'two' },
    { kind: 'added', text: 'three' },
  ]);
});

test('values too large to compare in the page get no diff rather than freezing the tab', () => {
  const side = Math.ceil(Math.sqrt(MAX_DIFF_CELLS));
  const many = Array.from({ length: side }, (_, i) => `line ${i}`);
  expect(lineDiff(many, many)).toBeUndefined();
  expect(lineDiff(many.slice(0, 100), many.slice(0, 100))).toHaveLength(100);
});
