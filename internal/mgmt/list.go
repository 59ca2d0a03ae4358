package mgmt

import (
	"cmp"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// List endpoints follow rabbit_mgmt_util:reply_list_or_paginate:
//   - sort=KEY (dotted, e.g. message_stats.publish_details.rate) is tried
//     before the default keys (vhost, name); sort_reverse=true reverses;
//   - page=N turns on paging: page_size (default 100, at most 500), name
//     (case-insensitive substring, or a regex with use_regex=true), and the
//     paged object {items, filtered_count, item_count, page, page_count,
//     page_size, total_count};
//   - columns=a,b.c keeps only those (dotted) fields of each item.

const (
	defaultPageSize = 100
	maxPageSize     = 500
)

type listParams struct {
	sort     []string
	reverse  bool
	paged    bool
	page     int
	pageSize int
	name     string
	regex    bool
	columns  [][]string
}

func parseListParams(r *http.Request, defaults []string) (listParams, *apiError) {
	q := r.URL.Query()
	p := listParams{sort: defaults}
	if s, ok := q["sort"]; ok {
		if s[0] == "" {
			p.sort = nil // explicitly unsorted
		} else {
			p.sort = append([]string{s[0]}, defaults...)
		}
	}
	p.reverse = q.Get("sort_reverse") == "true"
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		size := defaultPageSize
		var err2 error
		if ps := q.Get("page_size"); ps != "" {
			size, err2 = strconv.Atoi(ps)
		}
		if err != nil || err2 != nil || n < 1 || size < 1 || size > maxPageSize {
			return p, &apiError{http.StatusBadRequest, "invalid_pagination_parameters",
				"Invalid pagination parameters: page number " + v + ", page size " + q.Get("page_size")}
		}
		p.paged, p.page, p.pageSize = true, n, size
		p.name = q.Get("name")
		p.regex = q.Get("use_regex") == "true"
	}
	if c := q.Get("columns"); c != "" {
		for _, col := range strings.Split(c, ",") {
			if col = strings.TrimSpace(col); col != "" {
				p.columns = append(p.columns, strings.Split(col, "."))
			}
		}
	}
	return p, nil
}

// replyList sorts, filters, pages and trims items, and writes them.
func replyList[T any](w http.ResponseWriter, r *http.Request, items []T, defaults ...string) error {
	if defaults == nil {
		defaults = []string{"vhost", "name"}
	}
	p, aerr := parseListParams(r, defaults)
	if aerr != nil {
		return aerr
	}
	if len(p.sort) > 0 {
		sortItems(items, p.sort)
	}
	if p.reverse {
		slices.Reverse(items)
	}
	if !p.paged {
		if p.columns != nil {
			writeJSON(w, http.StatusOK, pickColumns(items, p.columns))
			return nil
		}
		writeJSONList(w, items)
		return nil
	}
	total := len(items)
	if p.name != "" {
		match, err := nameMatcher(p)
		if err != nil {
			return err
		}
		kept := items[:0:0]
		for _, it := range items {
			if n, ok := fieldValue(reflect.ValueOf(it), []string{"name"}).(string); ok && match(n) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	start := (p.page - 1) * p.pageSize
	if start > len(items) {
		return pageOutOfRange(p, len(items))
	}
	end := min(start+p.pageSize, len(items))
	pageItems := items[start:end]
	out := apitypes.Page[any]{
		FilteredCount: len(items), ItemCount: len(pageItems), Page: p.page,
		PageCount: (len(items) + p.pageSize - 1) / p.pageSize, PageSize: p.pageSize, TotalCount: total,
	}
	if p.columns != nil {
		out.Items = pickColumns(pageItems, p.columns)
	} else {
		out.Items = make([]any, len(pageItems))
		for i, it := range pageItems {
			out.Items[i] = it
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// sortItems orders items by the dotted keys, as RabbitMQ orders Erlang
// terms: numbers before strings, a missing value counting as 0. Keys are
// read once per item; an index is sorted, then the items moved once.
func sortItems[T any](items []T, keys []string) {
	paths := make([][]string, len(keys))
	for i, k := range keys {
		paths[i] = strings.Split(k, ".")
	}
	ks := make([][]any, len(items))
	for i := range items {
		rv := reflect.ValueOf(&items[i]).Elem()
		k := make([]any, len(paths))
		for j, p := range paths {
			k[j] = fieldValue(rv, p)
		}
		ks[i] = k
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		for i := range ks[a] {
			if c := compareTerms(ks[a][i], ks[b][i]); c != 0 {
				return c
			}
		}
		return 0
	})
	sorted := make([]T, len(items))
	for i, j := range idx {
		sorted[i] = items[j]
	}
	copy(items, sorted)
}

func compareTerms(a, b any) int {
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			return strings.Compare(sa, sb)
		}
	}
	fa, aNum := toFloat(a)
	fb, bNum := toFloat(b)
	switch {
	case aNum && bNum:
		return cmp.Compare(fa, fb)
	case aNum:
		return -1
	case bNum:
		return 1
	}
	sa, _ := a.(string)
	sb, _ := b.(string)
	return strings.Compare(sa, sb)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// fieldValue follows a dotted JSON path through structs, pointers and
// maps; nil when absent.
func fieldValue(v reflect.Value, path []string) any {
	for _, name := range path {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			idx, ok := jsonFields(v.Type())[name]
			if !ok {
				return nil
			}
			v = v.FieldByIndex(idx)
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String {
				return nil
			}
			v = v.MapIndex(reflect.ValueOf(name))
			if !v.IsValid() {
				return nil
			}
		default:
			return nil
		}
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return nil
}

var fieldCache sync.Map // reflect.Type → map[string][]int

func jsonFields(t reflect.Type) map[string][]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag := f.Tag.Get("json"); tag != "" {
			if tag == "-" {
				continue
			}
			if n, _, _ := strings.Cut(tag, ","); n != "" {
				name = n
			}
		}
		m[name] = f.Index
	}
	fieldCache.Store(t, m)
	return m
}

// pickColumns keeps only the given dotted columns of each item, read by
// reflection from the JSON field names (no marshalling round trip).
func pickColumns[T any](items []T, cols [][]string) []any {
	out := make([]any, len(items))
	for i := range items {
		rv := reflect.ValueOf(&items[i]).Elem()
		m := map[string]any{}
		for _, c := range cols {
			if v, ok := columnValue(rv, c); ok {
				setPath(m, c, v)
			}
		}
		out[i] = m
	}
	return out
}

// columnValue is the value at a dotted JSON path, as something
// encoding/json writes as the original would; nil pointers count as absent
// (they are omitempty fields).
func columnValue(v reflect.Value, path []string) (any, bool) {
	for _, name := range path {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return nil, false
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			idx, ok := jsonFields(v.Type())[name]
			if !ok {
				return nil, false
			}
			v = v.FieldByIndex(idx)
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String {
				return nil, false
			}
			v = v.MapIndex(reflect.ValueOf(name))
			if !v.IsValid() {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
		return nil, v.Kind() == reflect.Interface
	}
	return v.Interface(), true
}

func setPath(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

// lazyKey is what sorting and filtering by the basic columns need of an
// item whose JSON is expensive to build (a queue's counts and rates).
type lazyKey struct{ vhost, name string }

// replyLazy is replyList for n items built on demand: when the sort keys
// are only vhost and name (the default), it sorts, filters and pages the
// keys and builds just the items it sends, as RabbitMQ's management
// plugin augments only the page it returns. Otherwise it builds them all.
func replyLazy[T any](w http.ResponseWriter, r *http.Request, keys []lazyKey, build func(i int) T) error {
	p, aerr := parseListParams(r, []string{"vhost", "name"})
	if aerr != nil {
		return aerr
	}
	for _, k := range p.sort {
		if k != "vhost" && k != "name" {
			items := make([]T, len(keys))
			for i := range keys {
				items[i] = build(i)
			}
			return replyList(w, r, items)
		}
	}
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	if len(p.sort) > 0 {
		slices.SortStableFunc(idx, func(a, b int) int {
			for _, k := range p.sort {
				x, y := keys[a].name, keys[b].name
				if k == "vhost" {
					x, y = keys[a].vhost, keys[b].vhost
				}
				if c := strings.Compare(x, y); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if p.reverse {
		slices.Reverse(idx)
	}
	total := len(idx)
	if p.paged && p.name != "" {
		match, err := nameMatcher(p)
		if err != nil {
			return err
		}
		kept := idx[:0]
		for _, i := range idx {
			if match(keys[i].name) {
				kept = append(kept, i)
			}
		}
		idx = kept
	}
	filtered := len(idx)
	if p.paged {
		start := (p.page - 1) * p.pageSize
		if start > len(idx) {
			return pageOutOfRange(p, len(idx))
		}
		idx = idx[start:min(start+p.pageSize, len(idx))]
	}
	items := make([]T, len(idx))
	for j, i := range idx {
		items[j] = build(i)
	}
	if !p.paged && p.columns == nil {
		writeJSONList(w, items)
		return nil
	}
	var body any = items
	if p.columns != nil {
		body = pickColumns(items, p.columns)
	}
	if p.paged {
		writeJSON(w, http.StatusOK, apitypes.Page[any]{FilteredCount: filtered, ItemCount: len(items), Items: toAny(body),
			Page: p.page, PageCount: (filtered + p.pageSize - 1) / p.pageSize, PageSize: p.pageSize, TotalCount: total})
		return nil
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func toAny(v any) []any {
	rv := reflect.ValueOf(v)
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

func nameMatcher(p listParams) (func(string) bool, error) {
	if p.regex {
		re, err := regexp.Compile("(?i)" + p.name)
		if err != nil {
			return nil, badRequest("invalid regex: %v", err)
		}
		return re.MatchString, nil
	}
	lower := strings.ToLower(p.name)
	return func(s string) bool { return strings.Contains(strings.ToLower(s), lower) }, nil
}

func pageOutOfRange(p listParams, n int) *apiError {
	return &apiError{http.StatusBadRequest, "page_out_of_range",
		"Page out of range, page: " + strconv.Itoa(p.page) + " page size: " + strconv.Itoa(p.pageSize) +
			", len: " + strconv.Itoa(n)}
}
