package pgtest

// Dir returns an instance's directory, for tests.
func Dir(i *Instance) string { return i.dir }
