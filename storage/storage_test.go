package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/storage"
)

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"ftp://host/x", "unsupported scheme"},
		{"azblob://user:hunter2secret@c", "credentials in URLs are refused"},
		{"s3://b?endpoint=http://127.0.0.1:1&buffer_size=x&sas_token=hunter2secret", "invalid buffer_size"},
		{"gs://b?nonsense_param=1&access_key=hunter2secret", "open storage"},
	}
	for _, tt := range tests {
		_, err := storage.Open(context.Background(), tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s): got %v, want %q", storage.Redact(tt.url), err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("Open: error leaks a secret: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, gone, kept string }{
		{"azblob://c?sas_token=abc123xyz&domain=127.0.0.1:1", "abc123xyz", "domain=127.0.0.1"},
		{"s3://u:pw123456@b?region=us-east-1", "pw123456", "region=us-east-1"},
		{"s3://b?secret_access_key=s3cr3tvalue", "s3cr3tvalue", "s3://b"},
	}
	for _, tt := range tests {
		got := storage.Redact(tt.in)
		if strings.Contains(got, tt.gone) || !strings.Contains(got, tt.kept) {
			t.Errorf("Redact(%q) = %q", tt.in, got)
		}
	}
}

func TestPrefixParameter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := storage.Open(ctx, "file://"+dir+"?prefix=pre/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w, err := b.NewWriter(ctx, "k", checkpointWO())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := storage.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	objs, err := raw.List(ctx, "")
	if err != nil || len(objs) != 1 || objs[0].Key != "pre/k" {
		t.Fatalf("objects %v %v", objs, err)
	}
}

func checkpointWO() checkpoint.WriteOptions { return checkpoint.WriteOptions{} }

// A file bucket's folder is made on first use: the default storage URL
// names one that does not exist yet.
func TestOpenCreatesFileFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	b, err := storage.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("folder not made: %v", err)
	}
}
