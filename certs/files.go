package certs

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"time"
)

// fileStamps identifies one version of the certificate and key files.
type fileStamps struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func (a fileStamps) same(b fileStamps) bool {
	return a.certMod.Equal(b.certMod) && a.keyMod.Equal(b.keyMod) &&
		a.certSize == b.certSize && a.keySize == b.keySize
}

func (m *Manager) stamps() (fileStamps, error) {
	c, err := os.Stat(m.cfg.CertFile)
	if err != nil {
		return fileStamps{}, fmt.Errorf("certs: stat certificate: %w", err)
	}
	k, err := os.Stat(m.cfg.KeyFile)
	if err != nil {
		return fileStamps{}, fmt.Errorf("certs: stat key: %w", err)
	}
	return fileStamps{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

// Reload re-reads the certificate and key files; on error the certificate
// served so far stays. With ACME it does nothing (autocert renews by itself).
func (m *Manager) Reload() error {
	if m.acme != nil {
		return nil
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	// Stat before reading: a write racing the read changes the stamps again,
	// so Watch loads the pair once more.
	st, err := m.stamps()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(m.cfg.CertFile, m.cfg.KeyFile)
	if err != nil {
		m.failed = st
		return fmt.Errorf("certs: load %s and %s: %w", m.cfg.CertFile, m.cfg.KeyFile, err)
	}
	m.current.Store(&cert)
	m.loaded, m.failed = st, fileStamps{}
	leaf := cert.Leaf // set by LoadX509KeyPair
	m.log.Info("certs: loaded certificate", "file", m.cfg.CertFile,
		"names", leaf.DNSNames, "not_after", leaf.NotAfter, "issuer", leaf.Issuer.String())
	if time.Now().After(leaf.NotAfter) {
		m.log.Warn("certs: certificate has expired; browsers will refuse it", "file", m.cfg.CertFile, "not_after", leaf.NotAfter)
	}
	return nil
}

// Watch polls the files' modification times and sizes every interval
// (default 10 s) until ctx is done, and reloads once a change has held for
// one poll, so a certificate and key written one after the other load
// together. A pair that fails to load is logged once and the old certificate
// stays. With ACME it returns at once.
func (m *Manager) Watch(ctx context.Context, every time.Duration) {
	if m.acme != nil {
		return
	}
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var w watchState
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.poll(&w)
	}
}

// watchState is what Watch remembers between polls.
type watchState struct {
	pending fileStamps // a change seen on the previous poll
}

// poll is one step of Watch.
func (m *Manager) poll(w *watchState) {
	st, err := m.stamps()
	if err != nil {
		// A file missing mid-replace: look again on the next poll.
		w.pending = fileStamps{}
		return
	}
	m.reloadMu.Lock()
	known := st.same(m.loaded) || st.same(m.failed)
	m.reloadMu.Unlock()
	if known {
		w.pending = fileStamps{}
		return
	}
	if !st.same(w.pending) {
		w.pending = st // still being written, perhaps
		return
	}
	w.pending = fileStamps{}
	if err := m.Reload(); err != nil {
		m.log.Error("certs: keeping the old certificate", "err", err)
	}
}
