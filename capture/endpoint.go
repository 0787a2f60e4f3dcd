package capture

import (
	"net/http"
	"strings"

	"github.com/usagering/usagering/tracker"
)

// format is the wire format of an endpoint capture reads.
type format uint8

const (
	fmtNone      format = iota
	fmtChat             // OpenAI Chat Completions and compatible servers
	fmtResponses        // OpenAI Responses
	fmtMessages         // Anthropic Messages
	fmtGemini           // Gemini generateContent / streamGenerateContent
)

// Operations of the records, by format.
const (
	OpChat            = "chat"             // POST .../chat/completions
	OpResponses       = "responses"        // POST .../responses
	OpMessages        = "messages"         // POST .../messages
	OpGenerateContent = "generate_content" // POST .../models/{model}:generateContent or :streamGenerateContent
)

var operations = [...]string{fmtChat: OpChat, fmtResponses: OpResponses, fmtMessages: OpMessages, fmtGemini: OpGenerateContent}

// endpoint is what the request says about the call.
type endpoint struct {
	format   format
	model    string // Gemini: the model named by the path; "" otherwise
	stream   bool   // Gemini: streamGenerateContent (a JSON array unless alt=sse)
	provider string // from the host: "openai", "anthropic", "google" or ""
}

// classify tells the endpoint of req from its method and path (the
// query, such as Azure's api-version or Gemini's alt=sse, does not
// matter). Paths are matched by their end, so base paths of proxies and
// compatible servers (/openai/deployments/x/chat/completions, /api/v1/...)
// work. It does not allocate.
func classify(req *http.Request) endpoint {
	if req.Method != http.MethodPost || req.URL == nil {
		return endpoint{}
	}
	path := req.URL.Path
	var ep endpoint
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		ep.format = fmtChat
	case strings.HasSuffix(path, "/responses"):
		ep.format = fmtResponses
	case strings.HasSuffix(path, "/messages") && !strings.Contains(path, "/threads/"):
		// Anthropic's /v1/messages; OpenAI's Assistants post thread
		// messages to /threads/{id}/messages, which generate nothing.
		ep.format = fmtMessages
	default:
		// Gemini: .../models/{model}:generateContent or
		// :streamGenerateContent (also under Vertex AI's publishers/google).
		last := path[strings.LastIndexByte(path, '/')+1:]
		model, method, ok := strings.Cut(last, ":")
		if !ok || (method != "generateContent" && method != "streamGenerateContent") {
			return endpoint{}
		}
		ep.format, ep.model, ep.stream = fmtGemini, model, method == "streamGenerateContent"
	}
	ep.provider = providerOf(req.URL.Hostname())
	return ep
}

// providerOf names the provider of an API host, "" for any other host
// (the tracker then guesses it from the model).
func providerOf(host string) string {
	switch host {
	case "api.openai.com":
		return tracker.ProviderOpenAI
	case "api.anthropic.com":
		return tracker.ProviderAnthropic
	case "generativelanguage.googleapis.com":
		return tracker.ProviderGoogle
	}
	return ""
}
