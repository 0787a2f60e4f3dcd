// Package web is usagering serve's HTTP side: the dashboard (one
// server-rendered page with inline SVG charts, refreshing itself, no
// script) on / and the source's totals in Prometheus' text format on
// /metrics.
package web
