// Package registry maps the handles the C ABI hands out to live instances. Handles are
// positive int32 values (they travel through JavaScript numbers and C int64 safely) and
// are not reused while the instance they name is alive.
package registry

import (
	"errors"
	"math"
	"sync"
)

// ErrFull is returned when every positive int32 handle is in use.
var ErrFull = errors.New("registry: no free handle")

// slot is a handle's entry. A reserved handle has no value yet: the instance is being
// built (it needs its handle to tag its logs) and is not visible to Get.
type slot[T any] struct {
	v      T
	filled bool
}

// Registry is a concurrency-safe map from handle to T.
type Registry[T any] struct {
	mu    sync.Mutex
	next  int32
	items map[int32]slot[T]
}

// New returns an empty registry whose first handle is 1.
func New[T any]() *Registry[T] {
	return &Registry[T]{next: 1, items: make(map[int32]slot[T])}
}

// Reserve takes a fresh handle without a value. Handles increase and wrap around to 1
// after MaxInt32, skipping handles in use, so a stale handle rarely names a new
// instance.
func (r *Registry[T]) Reserve() (int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.items) >= math.MaxInt32 {
		return 0, ErrFull
	}
	for {
		id := r.next
		if r.next == math.MaxInt32 {
			r.next = 1
		} else {
			r.next++
		}
		if _, used := r.items[id]; !used {
			r.items[id] = slot[T]{}
			return id, nil
		}
	}
}

// Fill publishes v under a reserved handle. It reports false if id is not reserved.
func (r *Registry[T]) Fill(id int32, v T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.items[id]
	if !ok || s.filled {
		return false
	}
	r.items[id] = slot[T]{v: v, filled: true}
	return true
}

// Add reserves a handle and fills it with v.
func (r *Registry[T]) Add(v T) (int32, error) {
	id, err := r.Reserve()
	if err != nil {
		return 0, err
	}
	r.Fill(id, v)
	return id, nil
}

func valid(id int64) bool { return id > 0 && id <= math.MaxInt32 }

// Get returns the value under id. Reserved handles and any id outside the positive
// int32 range are unknown.
func (r *Registry[T]) Get(id int64) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.filledLocked(id)
}

// Remove deletes the entry under id and returns its value; of concurrent callers only
// one gets it. A reserved handle is unknown to Remove (its creator releases it).
func (r *Registry[T]) Remove(id int64) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.filledLocked(id)
	if ok {
		delete(r.items, int32(id))
	}
	return v, ok
}

// filledLocked returns the value of a filled entry under id; r.mu must be held.
func (r *Registry[T]) filledLocked(id int64) (T, bool) {
	var zero T
	if !valid(id) {
		return zero, false
	}
	s, ok := r.items[int32(id)]
	if !ok || !s.filled {
		return zero, false
	}
	return s.v, true
}

// Release frees a handle that was reserved but never filled (creation failed).
func (r *Registry[T]) Release(id int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.items[id]; ok && !s.filled {
		delete(r.items, id)
	}
}

// Len is the number of handles in use, reserved ones included.
func (r *Registry[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}
