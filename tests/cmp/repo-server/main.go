// Command repo-server renders one Application through a running cmp-server the
// way argocd-repo-server does: it calls the repo-server's own GenerateManifests
// (github.com/argoproj/argo-cd/v3/reposerver/repository), which sets ArgoCD's
// variables, finds the plugin by its socket under ARGOCD_PLUGINSOCKFILEPATH,
// streams the repository as a tgz and returns the manifests as JSON objects.
//
// Test tool only (tests/cmp.rs); nothing here is part of the dovetail product.
//
// Input: a JSON request on stdin (see request). Output: on success, one JSON
// object {"sourceType": ..., "manifests": [objects...]} on stdout; on error,
// the error on stderr and exit status 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/reposerver/apiclient"
	"github.com/argoproj/argo-cd/v3/reposerver/repository"
)

// request names the Application and the checkout, as the repo-server has them.
type request struct {
	RepoRoot       string            `json:"repoRoot"`       // the checkout of the source repo
	Path           string            `json:"path"`           // spec.source.path
	RepoURL        string            `json:"repoURL"`        // spec.source.repoURL
	TargetRevision string            `json:"targetRevision"` // spec.source.targetRevision
	Revision       string            `json:"revision"`       // the commit resolved from it
	AppName        string            `json:"appName"`        // metadata.name
	Namespace      string            `json:"namespace"`      // spec.destination.namespace
	Project        string            `json:"project"`        // spec.project
	Plugin         string            `json:"plugin"`         // spec.source.plugin.name ("" = discovery)
	Parameters     map[string]string `json:"parameters"`     // spec.source.plugin.parameters (strings)
	Env            map[string]string `json:"env"`            // spec.source.plugin.env
	TimeoutSeconds int               `json:"timeoutSeconds"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	var req request
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	source := &v1alpha1.ApplicationSource{
		RepoURL:        req.RepoURL,
		Path:           req.Path,
		TargetRevision: req.TargetRevision,
	}
	if req.Plugin != "" || len(req.Parameters) > 0 || len(req.Env) > 0 {
		plugin := &v1alpha1.ApplicationSourcePlugin{Name: req.Plugin}
		for _, name := range sortedKeys(req.Env) {
			plugin.Env = append(plugin.Env, &v1alpha1.EnvEntry{Name: name, Value: req.Env[name]})
		}
		for _, name := range sortedKeys(req.Parameters) {
			value := req.Parameters[name]
			plugin.Parameters = append(plugin.Parameters, v1alpha1.ApplicationSourcePluginParameter{Name: name, String_: &value})
		}
		source.Plugin = plugin
	}
	q := &apiclient.ManifestRequest{
		Repo:              &v1alpha1.Repository{Repo: req.RepoURL},
		Revision:          req.Revision,
		AppName:           req.AppName,
		Namespace:         req.Namespace,
		ProjectName:       req.Project,
		ApplicationSource: source,
		// What the application controller sends by default.
		KubeVersion: "1.37.0",
	}
	timeout := time.Duration(req.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	appPath := filepath.Join(req.RepoRoot, req.Path)
	res, err := repository.GenerateManifests(ctx, appPath, req.RepoRoot, req.Revision, q, false, nil, resource.MustParse("0"), nil)
	if err != nil {
		return err
	}
	out := struct {
		SourceType string            `json:"sourceType"`
		Manifests  []json.RawMessage `json:"manifests"`
	}{SourceType: res.SourceType, Manifests: []json.RawMessage{}}
	for _, m := range res.Manifests {
		out.Manifests = append(out.Manifests, json.RawMessage(m))
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
