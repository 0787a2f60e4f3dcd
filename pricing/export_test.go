package pricing

// EmbeddedJSON is the embedded table's text, for the tests and benchmarks
// of its parse.
const EmbeddedJSON = litellmTableJSON
