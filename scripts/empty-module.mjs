// Stands in for an optional module a bundle must not load (scripts/bundle-ui.mjs).
export default {};
