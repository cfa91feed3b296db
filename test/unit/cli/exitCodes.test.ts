import { EXIT, exitCodeForFinalState, exitCodeForHttpStatus } from '../../../cli/exitCodes';

test('API problems map to the documented exit codes', () => {
  expect(exitCodeForHttpStatus(0)).toBe(7);
  expect(exitCodeForHttpStatus(400)).toBe(1);
  expect(exitCodeForHttpStatus(401)).toBe(3);
  expect(exitCodeForHttpStatus(403)).toBe(4);
  expect(exitCodeForHttpStatus(404)).toBe(5);
  expect(exitCodeForHttpStatus(409)).toBe(6);
  expect(exitCodeForHttpStatus(413)).toBe(1);
  expect(exitCodeForHttpStatus(503)).toBe(7);
});

test('a watch exits 0 on SUCCEEDED, 8 on ROLLED_BACK, 9 on FAILED', () => {
  expect(exitCodeForFinalState('SUCCEEDED')).toBe(EXIT.ok);
  expect(exitCodeForFinalState('ROLLED_BACK')).toBe(8);
  expect(exitCodeForFinalState('FAILED')).toBe(9);
});

test('every exit code means one thing', () => {
  const codes = Object.values(EXIT);
  expect(new Set(codes).size).toBe(codes.length);
});
