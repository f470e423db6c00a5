/** The `d2l` namespace: the helpers of the d2l.ai book (torch edition), ported. */
export {};
