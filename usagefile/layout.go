package usagefile

// Layouts of the usage file's times: local time without a zone, as the
// original writes them (Python's datetime.now().isoformat()).
const (
	// TimestampLayout is the layout of a session's timestamp and of
	// last_updated: ISO 8601 with microseconds.
	TimestampLayout = "2006-01-02T15:04:05.000000"
	// DayLayout is the layout of daily_totals keys.
	DayLayout = "2006-01-02"
)
