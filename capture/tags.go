package capture

import (
	"context"
	"maps"
)

type tagsKey struct{}

// WithTags returns a copy of ctx whose calls are recorded with tags in the
// record's Metadata, so that spend can be split per user, team or feature.
// Tags already in ctx are kept unless tags names them again. The map is
// copied (once, here): changing it afterwards changes nothing, and every
// record made under the returned context shares the copy, read-only.
//
// The tracker accepts at most tracker.MaxMetadataKeys entries per record:
// a call made with more is refused by the Recorder and counted as
// ReasonRejected.
func WithTags(ctx context.Context, tags map[string]string) context.Context {
	parent := tagsFrom(ctx)
	m := make(map[string]string, len(parent)+len(tags))
	maps.Copy(m, parent)
	maps.Copy(m, tags)
	return context.WithValue(ctx, tagsKey{}, m)
}

// tagsFrom returns the tags of ctx, nil if none. The map must not be
// written to.
func tagsFrom(ctx context.Context) map[string]string {
	m, _ := ctx.Value(tagsKey{}).(map[string]string)
	return m
}
