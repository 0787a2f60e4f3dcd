// Command usagering reads usage files (and a fleet's PostgreSQL store) and
// shows the spend: reports in the terminal, price look-ups, and an HTTP
// server with Prometheus metrics and a dashboard.
//
//	usagering report [-file usage.json | -postgres DSN] [-days N | -from D -to D | -all] [-by day,model,provider,tag:KEY] [-json | -csv]
//	usagering prices [-file prices.json] [-json] MODEL...
//	usagering serve  [-file usage.json | -postgres DSN] [-addr 127.0.0.1:9464]
//
// Run "usagering help COMMAND" for a command's flags. Bad input (a
// missing or foreign file, an unknown flag or grouping, a malformed date)
// exits with status 2, other failures with status 1.
package main
