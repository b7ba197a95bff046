/**
 * React and ink, from one module, so that `npm run build` can replace its output with a single esbuild bundle of
 * both (scripts/bundle-ui.mjs): loaded as the hundreds of files they are, they took most of `mam ui`'s start-up
 * (docs/ui.md, 'Rendering, and why ink'). The dashboard takes React and ink from here and never from the packages,
 * so there is one React either way.
 */
export { default as React } from 'react';
export { Box, render, Text, useInput } from 'ink';
export type { Instance, Key } from 'ink';
