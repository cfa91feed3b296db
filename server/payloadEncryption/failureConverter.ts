import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Loaded by path (the worker bundles it into workflow code): failure messages and stack traces go into a
 * payload the codec seals, since a message may quote a value (a JSON parse error quotes the input).
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
