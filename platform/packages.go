package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/wskx/wskx/whisk"
)

// OpenWhisk's messages for packages (Messages in ErrorResponse.scala).
const (
	msgBindingDoesNotExist     = "Binding references a package that does not exist."
	msgPackageCannotBeBinding  = "Resource is a package and cannot be converted into a binding."
	msgBindingToBinding        = "Cannot bind to another package binding."
	msgBindingNotPackage       = "Cannot bind to a resource that is not a package."
	msgNotAllowedOnBinding     = "Operation not permitted on package binding."
	bindingAnnotation          = "binding"
	feedAnnotation             = "feed"
	reservedPackageName        = "default"
	maxPackageBody             = 2*maxPayload + 1<<20
	msgPackageNotEmptyTemplate = "Package not empty (contains %d %s). Set force param or delete package contents."
)

// packageBody is what a PUT of a package may set (WhiskPackagePut). An
// absent field keeps the package's value on an update.
type packageBody struct {
	Binding     json.RawMessage  `json:"binding"`
	Parameters  *whisk.KeyValues `json:"parameters"`
	Version     *string          `json:"version"`
	Publish     *bool            `json:"publish"`
	Annotations *whisk.KeyValues `json:"annotations"`
}

var semVerRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// readBinding reads a PUT's binding as Binding.optionalBindingDeserializer
// does: absent, null and {} are no binding; a namespace "_" is the
// package's own (WhiskPackagePut.resolve).
func readBinding(raw json.RawMessage, ns string) (*whisk.Binding, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, errors.New("binding: expected an object")
	}
	if len(m) == 0 {
		return nil, nil
	}
	var b whisk.Binding
	if json.Unmarshal(m["namespace"], &b.Namespace) != nil || json.Unmarshal(m["name"], &b.Name) != nil ||
		!validName(b.Namespace) || !validName(b.Name) {
		return nil, errors.New("binding: expected a namespace and a name")
	}
	if b.Namespace == "_" {
		b.Namespace = ns
	}
	return &b, nil
}

// packageName validates the {name} of a package path.
func packageName(r *http.Request) (string, *apiError) {
	name := r.PathValue("name")
	if len(name) > maxNameLength {
		return "", &apiError{http.StatusBadRequest, nameTooLong("Name segement", len(name))}
	}
	if !validName(name) {
		return "", &apiError{http.StatusBadRequest, msgNameIllegal}
	}
	return name, nil
}

// putPackage creates or updates a package or a binding (Packages.scala
// create, update and checkBinding).
func (p *Platform) putPackage(w http.ResponseWriter, r *http.Request) {
	name, e := packageName(r)
	if e != nil {
		writeAPIError(w, r, e)
		return
	}
	ns := nsOf(r)
	if ns != userOf(r).Namespace {
		writeAPIError(w, r, notAuthorized(ns+"/"+name))
		return
	}
	if name == reservedPackageName {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("Package name '%s' is reserved.", name))
		return
	}
	body, ok := readBody(w, r, maxPackageBody)
	if !ok {
		return
	}
	var b packageBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&b)
	var binding *whisk.Binding
	if err == nil {
		binding, err = readBinding(b.Binding, ns)
	}
	if err == nil && b.Version != nil && !semVerRE.MatchString(*b.Version) {
		err = fmt.Errorf("version %q is not a semantic version", *b.Version)
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, msgMalformedBody+" "+err.Error())
		return
	}
	for _, kv := range []struct {
		field string
		kv    *whisk.KeyValues
	}{{"parameters", b.Parameters}, {"annotations", b.Annotations}} {
		if kv.kv != nil {
			if size := paramsSize(*kv.kv); size > maxPayload {
				writeError(w, r, http.StatusRequestEntityTooLarge,
					fmt.Sprintf("%s larger than allowed: %d > %d bytes.", kv.field, size, maxPayload))
				return
			}
		}
	}
	// The bound package must be readable to the caller; the refusals say
	// so in the binding's terms (Packages.scala rewriteEntitlementFailure).
	if binding != nil {
		switch right, cb := p.packageRight(ns, binding.Namespace, binding.Name); right {
		case forbidden:
			writeAPIError(w, r, notAuthorized(binding.Namespace+"/"+binding.Name))
			return
		case missing:
			writeError(w, r, http.StatusBadRequest, msgBindingDoesNotExist)
			return
		case notPackage:
			writeError(w, r, http.StatusConflict, msgBindingNotPackage)
			return
		case circular:
			writeAPIError(w, r, circularBinding(cb))
			return
		}
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	old, exists := p.store.getPackage(ns, name)
	if !exists {
		if _, isAction := p.store.getAction(ns, name); isAction {
			writeAPIError(w, r, errConformance)
			return
		}
	}
	if exists && r.URL.Query().Get("overwrite") != "true" {
		writeError(w, r, http.StatusConflict, msgExists)
		return
	}
	if exists && binding != nil && old.Binding == nil {
		writeError(w, r, http.StatusConflict, msgPackageCannotBeBinding)
		return
	}
	if binding != nil {
		if e := p.checkBinding(binding); e != nil {
			writeAPIError(w, r, e)
			return
		}
	}
	pkg := buildPackage(ns, name, &b, binding, old)
	if err := p.store.putPackage(pkg); err != nil {
		p.log.Error("put package", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgServerError)
		return
	}
	writeJSONResponse(w, http.StatusOK, pkg)
}

// checkBinding is Packages.scala checkBinding: the bound package exists
// and is not itself a binding.
func (p *Platform) checkBinding(b *whisk.Binding) *apiError {
	target, ok := p.store.getPackage(b.Namespace, b.Name)
	switch {
	case !ok:
		if _, isAction := p.store.getAction(b.Namespace, b.Name); isAction {
			return &apiError{http.StatusConflict, msgBindingNotPackage}
		}
		return &apiError{http.StatusBadRequest, msgBindingDoesNotExist}
	case target.Binding != nil:
		return &apiError{http.StatusBadRequest, msgBindingToBinding}
	}
	return nil
}

// buildPackage is the package a PUT stores: a new one from the body and
// defaults, or old with what the body sets (parameters and annotations
// replaced, not merged). The binding annotation is always the platform's
// (Packages.scala bindingAnnotation).
func buildPackage(ns, name string, b *packageBody, binding *whisk.Binding, old *whisk.Package) *whisk.Package {
	pkg := &whisk.Package{Namespace: ns, Name: name, Version: "0.0.1",
		Annotations: whisk.KeyValues{}, Parameters: whisk.KeyValues{}}
	if old != nil {
		cp := *old
		pkg = &cp
		pkg.Version = bumpVersion(old.Version)
	}
	if binding != nil {
		pkg.Binding = binding
	}
	if b.Parameters != nil {
		pkg.Parameters = *b.Parameters
	}
	if b.Version != nil {
		pkg.Version = *b.Version
	}
	if b.Publish != nil {
		pkg.Publish = *b.Publish
	}
	if b.Annotations != nil {
		pkg.Annotations = *b.Annotations
	}
	ann := slices.DeleteFunc(slices.Clone(pkg.Annotations), func(kv whisk.KeyValue) bool { return kv.Key == bindingAnnotation })
	if pkg.Binding != nil {
		ann = append(ann, whisk.KeyValue{Key: bindingAnnotation, Value: *pkg.Binding})
	}
	pkg.Annotations = ann
	if pkg.Annotations == nil {
		pkg.Annotations = whisk.KeyValues{}
	}
	if pkg.Parameters == nil {
		pkg.Parameters = whisk.KeyValues{}
	}
	pkg.Updated = time.Now().UnixMilli()
	return pkg
}

// getPackage answers a package with the actions and feeds in it; a
// binding with the bound package's, and the bound package's parameters
// under its own (Packages.scala mergePackageWithBinding).
func (p *Platform) getPackage(w http.ResponseWriter, r *http.Request) {
	name, e := packageName(r)
	if e != nil {
		writeAPIError(w, r, e)
		return
	}
	ns := nsOf(r)
	// authorizeAndDispatch names the resource in a 403 or a 404.
	switch right, cb := p.packageRight(userOf(r).Namespace, ns, name); right {
	case forbidden:
		writeAPIError(w, r, notAuthorized(ns+"/"+name))
		return
	case missing:
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("The requested resource '%s/%s' does not exist.", ns, name))
		return
	case notPackage:
		writeAPIError(w, r, errConformance)
		return
	case circular:
		writeAPIError(w, r, circularBinding(cb))
		return
	}
	pkg, ok := p.store.getPackage(ns, name)
	if !ok {
		writeAPIError(w, r, errNotFound)
		return
	}
	holder := pkg
	if pkg.Binding != nil {
		if holder, ok = p.store.getPackage(pkg.Binding.Namespace, pkg.Binding.Name); !ok {
			writeAPIError(w, r, errNotFound)
			return
		}
		cp := *pkg
		cp.Parameters = mergeParams(holder.Parameters, pkg.Parameters)
		pkg = &cp
	}
	out := *pkg
	out.Actions, out.Feeds = []whisk.PackageAction{}, []whisk.PackageAction{}
	for _, a := range byUpdated(p.store.packageActions(holder.Namespace, holder.Name)) {
		pa := whisk.PackageAction{Name: a.Name, Version: a.Version, Annotations: a.Annotations}
		if hasKey(a.Annotations, feedAnnotation) {
			out.Feeds = append(out.Feeds, pa)
		} else {
			out.Actions = append(out.Actions, pa)
		}
	}
	writeJSONResponse(w, http.StatusOK, withContents{out})
}

// withContents writes a package with its actions and feeds, empty or not.
type withContents struct{ whisk.Package }

func (c withContents) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.Package)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["actions"] = mustJSON(c.Actions)
	m["feeds"] = mustJSON(c.Feeds)
	return json.Marshal(m)
}

func hasKey(kv whisk.KeyValues, key string) bool {
	return slices.ContainsFunc(kv, func(p whisk.KeyValue) bool { return p.Key == key })
}

// byUpdated sorts actions as OpenWhisk's views list them: the latest
// updated first.
func byUpdated(actions []*whisk.Action) []*whisk.Action {
	byUpdate(actions, func(a *whisk.Action) int64 { return a.Updated }, func(a *whisk.Action) string { return a.Name })
	return actions
}

// deletePackage deletes a binding, or a package that holds no actions
// unless force deletes them too (Packages.scala remove).
func (p *Platform) deletePackage(w http.ResponseWriter, r *http.Request) {
	name, e := packageName(r)
	if e != nil {
		writeAPIError(w, r, e)
		return
	}
	ns := nsOf(r)
	if ns != userOf(r).Namespace {
		writeAPIError(w, r, notAuthorized(ns+"/"+name))
		return
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	pkg, ok := p.store.getPackage(ns, name)
	if !ok {
		if _, isAction := p.store.getAction(ns, name); isAction {
			writeAPIError(w, r, errConformance)
		} else {
			writeAPIError(w, r, errNotFound)
		}
		return
	}
	if pkg.Binding == nil {
		actions := p.store.packageActions(ns, name)
		if n := len(actions); n > 0 && r.URL.Query().Get("force") != "true" {
			what := "entities"
			if n == 1 {
				what = "entity"
			}
			writeError(w, r, http.StatusConflict, fmt.Sprintf(msgPackageNotEmptyTemplate, n, what))
			return
		}
		for _, a := range actions {
			if err := p.store.deleteAction(a); err != nil {
				p.log.Error("delete package", "err", err)
				writeError(w, r, http.StatusInternalServerError, msgServerError)
				return
			}
		}
	}
	if err := p.store.deletePackage(pkg); err != nil {
		p.log.Error("delete package", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgServerError)
		return
	}
	writeJSONResponse(w, http.StatusOK, pkg)
}

// listPackages lists a namespace's packages and bindings; another
// namespace's list holds only its shared packages (Packages.scala list,
// the packages-public view). Entries carry no parameters, and a package's
// binding is false (the views' summary).
func (p *Platform) listPackages(w http.ResponseWriter, r *http.Request) {
	limit, skip, count, msg := listParams(r, "packages")
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	ns := nsOf(r)
	all := p.store.listPackages(ns)
	if ns != userOf(r).Namespace {
		all = slices.DeleteFunc(all, func(pkg *whisk.Package) bool { return !pkg.Publish || pkg.Binding != nil })
	}
	if count {
		writeJSONResponse(w, http.StatusOK, map[string]int{"packages": max(len(all)-skip, 0)})
		return
	}
	out := []map[string]any{}
	for _, pkg := range page(all, limit, skip) {
		var binding any = false
		if pkg.Binding != nil {
			binding = pkg.Binding
		}
		out = append(out, map[string]any{"namespace": pkg.Namespace, "name": pkg.Name, "version": pkg.Version,
			"publish": pkg.Publish, "annotations": pkg.Annotations, "updated": pkg.Updated, "binding": binding})
	}
	writeJSONResponse(w, http.StatusOK, out)
}
