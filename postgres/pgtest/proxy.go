package pgtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// CommitCut says what the proxy does with the COMMIT it cuts.
type CommitCut int

const (
	// CutBeforeCommit drops the COMMIT and closes both sides: the server
	// never sees it and rolls the transaction back.
	CutBeforeCommit CommitCut = iota + 1
	// CutAfterCommit passes the COMMIT on, waits for the server's reply to
	// it (so the transaction has committed, or failed, on the server), and
	// closes both sides without passing the reply on: the client never
	// learns the outcome.
	CutAfterCommit
)

func (c CommitCut) String() string {
	switch c {
	case CutBeforeCommit:
		return "cut before commit"
	case CutAfterCommit:
		return "cut after commit"
	}
	return fmt.Sprintf("CommitCut(%d)", int(c))
}

// Proxy is a TCP proxy in front of a PostgreSQL server that reads the
// wire protocol of what passes through, so a test can make the network
// fail at chosen moments: refuse new connections, drop every connection,
// or cut a connection exactly when its client sends COMMIT (simple query
// "COMMIT"/"END", or the Execute of a portal bound to such a prepared
// statement). Connections that use TLS or GSS encryption pass through
// unread. Its methods are safe for concurrent use.
type Proxy struct {
	tb     testing.TB
	target string
	addr   string // fixed at NewProxy: Accept listens on it again

	mu       sync.Mutex
	ln       net.Listener // nil while refusing
	links    map[*link]struct{}
	cut      *armedCut
	closed   bool
	accepted int
	wg       sync.WaitGroup // the accept loops and relays
}

// armedCut is a CutNextCommit waiting for its COMMIT.
type armedCut struct {
	mode CommitCut
	done chan struct{}
}

// NewProxy starts a proxy on a free port of 127.0.0.1 that forwards to
// target ("host:port"). It is closed when tb's test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{tb: tb, target: target, addr: ln.Addr().String(), links: map[*link]struct{}{}}
	p.serve(ln)
	tb.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's "host:port".
func (p *Proxy) Addr() string { return p.addr }

// DSN returns dsn (a postgres:// URL) with its host and port replaced by
// the proxy's.
func (p *Proxy) DSN(dsn string) string {
	p.tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		p.tb.Fatalf("pgtest: proxy: want a postgres:// URL, got %q", dsn)
	}
	u.Host = p.addr
	return u.String()
}

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Refuse stops listening: new connections are refused (ECONNREFUSED)
// until Accept. Connections already made go on.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// Accept listens again, on the same address, after Refuse.
func (p *Proxy) Accept() error {
	p.mu.Lock()
	if p.ln != nil || p.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("pgtest: proxy: listen again on %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// DropAll closes every connection passing through the proxy, both sides,
// and returns how many it closed. The listener stays as it is.
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
	return len(links)
}

// CutNextCommit arms the proxy: the next COMMIT any client sends through
// it is cut as mode says. The returned channel is closed once that
// connection is closed (for CutAfterCommit: after the server replied to
// the COMMIT). Arming again replaces a cut not yet done.
func (p *Proxy) CutNextCommit(mode CommitCut) <-chan struct{} {
	if mode != CutBeforeCommit && mode != CutAfterCommit {
		p.tb.Fatalf("pgtest: proxy: invalid CommitCut %d", mode)
	}
	c := &armedCut{mode: mode, done: make(chan struct{})}
	p.mu.Lock()
	p.cut = c
	p.mu.Unlock()
	return c.done
}

// takeCut disarms and returns the armed cut, if any.
func (p *Proxy) takeCut() *armedCut {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cut
	p.cut = nil
	return c
}

// Close stops the proxy and closes every connection through it.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.DropAll()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return
	}
	p.ln = ln
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Refuse or Close
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			l := &link{p: p, client: c, server: s}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				l.close()
				continue
			}
			p.links[l] = struct{}{}
			p.accepted++
			p.wg.Add(2)
			p.mu.Unlock()
			go l.clientToServer()
			go l.serverToClient()
		}
	}()
}

// link is one client connection and its connection to the server.
type link struct {
	p              *Proxy
	client, server net.Conn
	closeOnce      sync.Once

	rawByte  atomic.Int32 // replies of one raw byte the server owes (SSL/GSS negotiation)
	opaque   atomic.Bool  // encrypted: pass bytes through unread
	withhold atomic.Pointer[armedCut]
}

func (l *link) close() {
	l.closeOnce.Do(func() {
		l.client.Close()
		l.server.Close()
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}

// Protocol codes of the untyped messages a client may send first.
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
)

// clientToServer relays the client's messages, watching for COMMIT.
func (l *link) clientToServer() {
	defer l.p.wg.Done()
	defer l.close()
	r := bufio.NewReaderSize(l.client, 64<<10)
	// Untyped messages until the startup message.
	for {
		msg, err := readMessage(r, false)
		if err != nil {
			return
		}
		code := binary.BigEndian.Uint32(msg[4:])
		if code == codeSSLRequest || code == codeGSSENCRequest {
			l.rawByte.Add(1)
		}
		if _, err := l.server.Write(msg); err != nil {
			return
		}
		if code == codeCancelRequest {
			return
		}
		if code != codeSSLRequest && code != codeGSSENCRequest {
			break // the startup message
		}
		if _, err := r.Peek(1); err != nil {
			return
		}
		if l.opaque.Load() {
			l.copyRaw(r, l.server)
			return
		}
	}
	// Typed messages. Prepared statements and portals are tracked by name
	// so that the Execute of a prepared COMMIT is recognised.
	stmts := map[string]bool{}   // statement name → is COMMIT
	portals := map[string]bool{} // portal name → is COMMIT
	for {
		msg, err := readMessage(r, true)
		if err != nil {
			return
		}
		commit := false
		body := msg[5:]
		switch msg[0] {
		case 'Q': // Query: the SQL
			commit = isCommit(cstring(body, 0))
		case 'P': // Parse: statement name, SQL, ...
			name := cstring(body, 0)
			stmts[name] = isCommit(cstring(body, len(name)+1))
		case 'B': // Bind: portal name, statement name, ...
			portal := cstring(body, 0)
			portals[portal] = stmts[cstring(body, len(portal)+1)]
		case 'E': // Execute: portal name, row limit
			commit = portals[cstring(body, 0)]
		}
		if commit {
			if c := l.p.takeCut(); c != nil {
				if c.mode == CutBeforeCommit {
					l.close()
					close(c.done)
					return
				}
				l.withhold.Store(c) // before the COMMIT goes out: its reply comes after
			}
		}
		if _, err := l.server.Write(msg); err != nil {
			return
		}
	}
}

// serverToClient relays the server's messages, withholding the reply to a
// COMMIT that CutAfterCommit cuts.
func (l *link) serverToClient() {
	defer l.p.wg.Done()
	defer l.close()
	r := bufio.NewReaderSize(l.server, 64<<10)
	for {
		if l.rawByte.Load() > 0 {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			if b == 'S' || b == 'G' {
				l.opaque.Store(true) // before the client can send its handshake
			}
			l.rawByte.Add(-1)
			if _, err := l.client.Write([]byte{b}); err != nil {
				return
			}
			if b == 'S' || b == 'G' {
				l.copyRaw(r, l.client)
				return
			}
			continue
		}
		msg, err := readMessage(r, true)
		if err != nil {
			return
		}
		if c := l.withhold.Load(); c != nil {
			if msg[0] == 'Z' { // ReadyForQuery: the COMMIT is done on the server
				l.close()
				close(c.done)
				return
			}
			continue
		}
		if _, err := l.client.Write(msg); err != nil {
			return
		}
	}
}

func (l *link) copyRaw(r io.Reader, w io.Writer) {
	_, _ = io.Copy(w, r) // the link closes either way
}

// readMessage reads one protocol message: a type byte (if typed) and a
// length that counts itself and the body. It returns the whole message.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	hdr, err := r.Peek(head)
	if err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[head-4:]))
	if n < 4 || n > 1<<30 || (!typed && n < 8) {
		return nil, errors.New("pgtest: proxy: bad message length")
	}
	msg := make([]byte, head-4+n)
	_, err = io.ReadFull(r, msg)
	return msg, err
}

// cstring returns the NUL-terminated string at b[i:] ("" if none).
func cstring(b []byte, i int) string {
	if i > len(b) {
		return ""
	}
	b = b[i:]
	for j, c := range b {
		if c == 0 {
			return string(b[:j])
		}
	}
	return string(b)
}

// isCommit reports whether a SQL text is a COMMIT (or END) statement.
func isCommit(sql string) bool {
	s := strings.TrimRight(strings.TrimSpace(sql), "; \t\r\n")
	word, _, _ := strings.Cut(s, " ")
	word = strings.ToUpper(word)
	return word == "COMMIT" || word == "END"
}
