package relay

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Secret is a cluster secret and the epoch that names it on the wire.
type Secret struct {
	Epoch uint32
	Key   []byte
}

// MinSecretLen is the shortest accepted cluster secret.
const MinSecretLen = 16

// maxCachedAEADs bounds the derived-key cache. Only datagrams from known
// peers reach key derivation through Transport, but Open may be called on
// anything.
const maxCachedAEADs = 4096

// Keys derives and caches the pairwise keys of one node. It is safe for
// concurrent use.
type Keys struct {
	self    NodeID
	current Secret   // seals; newest
	secrets []Secret // opens; includes current

	mu    sync.RWMutex
	cache map[pairKey]cipher.AEAD // guarded by mu
}

type pairKey struct {
	sender, receiver NodeID
	epoch            uint32
}

// NewKeys returns the keys of node self. The first secret seals; all of them
// open, so a cluster can rotate its secret by adding the new one everywhere
// before making it first.
func NewKeys(self NodeID, secrets ...Secret) (*Keys, error) {
	if self == 0 {
		return nil, errors.New("relay: node id 0 is reserved")
	}
	if len(secrets) == 0 {
		return nil, errors.New("relay: no cluster secret")
	}
	seen := map[uint32]bool{}
	for _, s := range secrets {
		if len(s.Key) < MinSecretLen {
			return nil, fmt.Errorf("relay: secret of epoch %d is %d bytes, want at least %d", s.Epoch, len(s.Key), MinSecretLen)
		}
		if seen[s.Epoch] {
			return nil, fmt.Errorf("relay: two secrets for epoch %d", s.Epoch)
		}
		seen[s.Epoch] = true
	}
	return &Keys{
		self:    self,
		current: secrets[0],
		secrets: secrets,
		cache:   make(map[pairKey]cipher.AEAD),
	}, nil
}

// Self returns the node these keys belong to.
func (k *Keys) Self() NodeID { return k.self }

func (k *Keys) knows(epoch uint32) bool {
	for i := range k.secrets {
		if k.secrets[i].Epoch == epoch {
			return true
		}
	}
	return false
}

func (k *Keys) aead(sender, receiver NodeID, epoch uint32) (cipher.AEAD, error) {
	pk := pairKey{sender, receiver, epoch}
	k.mu.RLock()
	a := k.cache[pk]
	k.mu.RUnlock()
	if a != nil {
		return a, nil
	}
	var secret []byte
	for i := range k.secrets {
		if k.secrets[i].Epoch == epoch {
			secret = k.secrets[i].Key
		}
	}
	if secret == nil {
		return nil, ErrEpoch
	}
	key, err := DeriveKey(secret, sender, receiver, epoch)
	if err != nil {
		return nil, err
	}
	a, err = chacha20poly1305.New(key)
	if err != nil {
		return nil, fmt.Errorf("relay: cipher for %d->%d: %w", sender, receiver, err)
	}
	k.mu.Lock()
	if len(k.cache) >= maxCachedAEADs {
		clear(k.cache)
	}
	k.cache[pk] = a
	k.mu.Unlock()
	return a, nil
}

// DeriveKey returns the 32-byte key for datagrams from sender to receiver
// under the secret of epoch.
func DeriveKey(secret []byte, sender, receiver NodeID, epoch uint32) ([]byte, error) {
	var info [4 + 12]byte
	copy(info[:], "pair")
	binary.BigEndian.PutUint32(info[4:], uint32(sender))
	binary.BigEndian.PutUint32(info[8:], uint32(receiver))
	binary.BigEndian.PutUint32(info[12:], epoch)
	key, err := hkdf.Key(sha256.New, secret, []byte("switchyard relay v1"), string(info[:]), chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("relay: derive key %d->%d epoch %d: %w", sender, receiver, epoch, err)
	}
	return key, nil
}
