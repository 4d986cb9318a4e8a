package platform

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wskx/wskx/whisk"
)

// apiError is a request refused: its status and OpenWhisk's message.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func writeAPIError(w http.ResponseWriter, r *http.Request, e *apiError) {
	writeError(w, r, e.status, e.msg)
}

var (
	errNotFound    = &apiError{http.StatusNotFound, msgNotFound}
	errConformance = &apiError{http.StatusConflict, msgConformance}
)

// notAuthorized is Messages.notAuthorizedtoAccessResource: what
// EntitlementProvider.check answers for resources the caller may not use.
func notAuthorized(resources ...string) *apiError {
	slices.Sort(resources)
	resources = slices.Compact(resources)
	return &apiError{http.StatusForbidden,
		fmt.Sprintf("The supplied authentication is not authorized to access '%s'.", strings.Join(resources, ", "))}
}

// circularBinding is Messages.packageBindingCircularReference.
func circularBinding(b *whisk.Binding) *apiError {
	return &apiError{http.StatusUnprocessableEntity,
		fmt.Sprintf("Package binding '%s/%s' contains a circular reference.", b.Namespace, b.Name)}
}

// readRight is the outcome of a check that the caller may read a package.
type readRight int

const (
	readable readRight = iota
	// forbidden: not the caller's and not shared, a binding in another
	// namespace, or missing from another namespace (OpenWhisk does not
	// say what another namespace holds).
	forbidden
	// missing from the caller's own namespace.
	missing
	// the caller's name is an action, not a package.
	notPackage
	// a binding that refers to itself.
	circular
)

// maxBindingHops bounds the walk through bindings. A binding cannot refer
// to another binding (Packages.scala checkBinding), so one hop is the most
// that is ever needed.
const maxBindingHops = 8

// packageRight is PackageCollection.checkPackageReadPermission: the owner
// may read a package, and anyone may when it is shared (publish); only the
// owner may read a binding, and only if the bound package is readable to
// them in turn. b is the binding that refers to itself, for circular.
func (p *Platform) packageRight(caller, ns, name string) (right readRight, b *whisk.Binding) {
	owner := ns == caller
	for range maxBindingHops {
		pkg, ok := p.store.getPackage(ns, name)
		switch {
		case !ok && !owner:
			return forbidden, nil
		case !ok:
			if _, isAction := p.store.getAction(ns, name); isAction {
				return notPackage, nil
			}
			return missing, nil
		case pkg.Binding == nil:
			if pkg.Publish || owner {
				return readable, nil
			}
			return forbidden, nil
		case !owner:
			return forbidden, nil
		}
		b = pkg.Binding
		if b.Namespace == ns && b.Name == name {
			return circular, b
		}
		ns, name, owner = b.Namespace, b.Name, b.Namespace == caller
	}
	return circular, b
}

// actionRight is ActionCollection.implicitRights for reading or invoking
// the action f: the caller's own actions, and those in packages the caller
// may read (bindings included). The refusal names the resource refused:
// the action, or its package.
func (p *Platform) actionRight(caller string, f fqn) *apiError {
	pkg, _, inPackage := f.split()
	if !inPackage {
		if f.ns == caller {
			return nil
		}
		return notAuthorized(f.String())
	}
	right, b := p.packageRight(caller, f.ns, pkg)
	switch right {
	case readable:
		return nil
	case forbidden:
		return notAuthorized(f.ns + "/" + pkg)
	case missing:
		return errNotFound
	case notPackage:
		return errConformance
	default:
		return circularBinding(b)
	}
}

// componentsRight checks the caller may use every component of a
// sequence, as Actions.scala entitleReferencedEntities does on create and
// invoke: the caller's own actions and those of packages it may read. The
// components are fully qualified ("/ns/[pkg/]name").
func (p *Platform) componentsRight(caller string, components []string) *apiError {
	var refused []string
	for _, c := range components {
		f, ok := resolveName(c, caller)
		if !ok {
			continue // checkExec has refused it already
		}
		e := p.actionRight(caller, f)
		switch {
		case e == nil:
		case e.status == http.StatusForbidden && !strings.Contains(f.name, "/"):
			refused = append(refused, f.String())
		default:
			return e
		}
	}
	if len(refused) > 0 {
		return notAuthorized(refused...)
	}
	return nil
}

// resolved is an action as WhiskActionMetaData.resolveActionAndMergeParameters
// finds it: through its package, or the package a binding refers to, with
// the package's parameters under the binding's, under the action's.
type resolved struct {
	action *whisk.Action // a copy when parameters were merged
	name   fqn           // where the action is
	// binding is the binding it was reached through ("ns/binding"), as
	// the activation's binding annotation names it.
	binding string
}

// resolveAction finds the action f, through bindings; the caller has
// checked it may.
func (p *Platform) resolveAction(f fqn) (*resolved, *apiError) {
	pkgName, name, inPackage := f.split()
	if !inPackage {
		a, ok := p.store.getAction(f.ns, f.name)
		if !ok {
			if _, isPackage := p.store.getPackage(f.ns, f.name); isPackage {
				return nil, errConformance
			}
			return nil, errNotFound
		}
		return &resolved{action: a, name: f}, nil
	}
	pkg, params, e := p.resolveBinding(f.ns, pkgName)
	if e != nil {
		return nil, e
	}
	at := fqn{pkg.Namespace, pkg.Name + "/" + name}
	a, ok := p.store.getAction(at.ns, at.name)
	if !ok {
		return nil, errNotFound
	}
	cp := *a
	cp.Parameters = mergeParams(params, a.Parameters)
	res := &resolved{action: &cp, name: at}
	if at.ns != f.ns || pkg.Name != pkgName {
		res.binding = f.ns + "/" + pkgName
	}
	return res, nil
}

// resolveBinding is WhiskPackage.resolveBinding with mergeParameters: the
// package ns/name, or the one its binding refers to, and the parameters
// an action in it inherits (the binding's over the package's).
func (p *Platform) resolveBinding(ns, name string) (*whisk.Package, whisk.KeyValues, *apiError) {
	var over []whisk.KeyValues
	for range maxBindingHops {
		pkg, ok := p.store.getPackage(ns, name)
		if !ok {
			if _, isAction := p.store.getAction(ns, name); isAction {
				return nil, nil, errConformance
			}
			return nil, nil, errNotFound
		}
		if pkg.Binding == nil {
			params := pkg.Parameters
			for i := len(over) - 1; i >= 0; i-- {
				params = mergeParams(params, over[i])
			}
			return pkg, params, nil
		}
		over = append(over, pkg.Parameters)
		ns, name = pkg.Binding.Namespace, pkg.Binding.Name
	}
	return nil, nil, circularBinding(&whisk.Binding{Namespace: ns, Name: name})
}

// mergeParams returns base with over's parameters laid on top, as
// OpenWhisk's Parameters ++ does: a key keeps its place, its value (and
// init flag) from over.
func mergeParams(base, over whisk.KeyValues) whisk.KeyValues {
	out := append(whisk.KeyValues{}, base...)
	for _, kv := range over {
		if i := slices.IndexFunc(out, func(o whisk.KeyValue) bool { return o.Key == kv.Key }); i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}
