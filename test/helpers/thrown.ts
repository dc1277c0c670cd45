// The error a call throws, so one toMatchObject can check its class, message and details together:
// expect(thrown(() => f())).toMatchObject({ constructor: ValidationError, message: '…', details: {…} }).
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, but nothing was thrown');
}
