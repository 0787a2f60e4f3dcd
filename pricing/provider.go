package pricing

import "strings"

// ProviderGoogle is the provider NormalizeProvider gives Gemini and Vertex
// AI models: the name the original tool (and tracker.DetectProvider) uses
// for Gemini models.
const ProviderGoogle = "google"

// NormalizeProvider maps a LiteLLM litellm_provider to the provider name
// usage is grouped under: "gemini", "vertex_ai" and every "vertex_ai-…" or
// "vertex_ai_…" provider (vertex_ai-language-models,
// vertex_ai-anthropic_models, …: models served by Google Cloud) become
// "google"; every other name is returned as LiteLLM writes it ("openai",
// "anthropic", "bedrock", "azure", "mistral", "xai", …).
func NormalizeProvider(litellmProvider string) string {
	if litellmProvider == "gemini" || litellmProvider == "vertex_ai" ||
		strings.HasPrefix(litellmProvider, "vertex_ai-") || strings.HasPrefix(litellmProvider, "vertex_ai_") {
		return ProviderGoogle
	}
	return litellmProvider
}
