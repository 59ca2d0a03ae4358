package auth

import (
	"net"
	"slices"
	"sort"
	"sync"
)

// User and Store are the in-memory user table auth kept before users
// became broker metadata (broker.User, changed only through broker.Apply).
//
// Deprecated: use the broker's users (Broker.User, Broker.Users and the
// user commands). Kept only until internal/mgmt's seam (backend.go)
// moves over; nothing else may use it.
type User struct {
	Name         string
	PasswordHash string
	Tags         []string
}

// Store is a set of users.
//
// Deprecated: see User.
type Store struct {
	mu       sync.RWMutex
	users    map[string]*User
	loopback []string
}

// NewStore makes a store with a default user.
//
// Deprecated: see User.
func NewStore(defaultUser, defaultPass string, loopbackUsers []string) *Store {
	s := &Store{users: map[string]*User{}, loopback: loopbackUsers}
	if defaultUser != "" {
		s.Put(&User{Name: defaultUser, PasswordHash: HashPassword(defaultPass), Tags: []string{"administrator"}})
	}
	return s
}

// Put adds or replaces a user.
func (s *Store) Put(u *User) {
	s.mu.Lock()
	s.users[u.Name] = u
	s.mu.Unlock()
}

// User looks a user up.
func (s *Store) User(name string) *User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.users[name]
}

// Users lists users by name.
func (s *Store) Users() []*User {
	s.mu.RLock()
	us := make([]*User, 0, len(s.users))
	for _, u := range s.users {
		us = append(us, u)
	}
	s.mu.RUnlock()
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	return us
}

// Authenticate checks a name and password for a client at remote.
func (s *Store) Authenticate(name, password string, remote net.Addr) (*User, error) {
	u := s.User(name)
	if u == nil || !CheckPassword(u.PasswordHash, password) {
		return nil, ErrBadCredentials
	}
	if slices.Contains(s.loopback, name) && !IsLoopback(remote) {
		return nil, ErrLoopbackOnly
	}
	return u, nil
}
