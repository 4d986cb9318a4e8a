package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync/atomic"
)

// Checksums the store can record per file. SHA-256 is the default; CRC-32C
// (the checksum S3 and GCS use for transfers) catches the same damage (bit
// flips, truncation, a swapped object) at a tenth of the CPU, which matters
// when the image is large and the deadline margin tight. Neither defends
// against someone who can write the bucket, since they could rewrite the
// manifest too; encryption (AES-GCM) is what authenticates the bytes.
const (
	ChecksumSHA256 = "sha256"
	ChecksumCRC32C = "crc32c"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func newChecksum(name string) (func() hash.Hash, error) {
	switch name {
	case "", ChecksumSHA256:
		return sha256.New, nil
	case ChecksumCRC32C:
		return func() hash.Hash { return crc32.New(castagnoli) }, nil
	}
	return nil, fmt.Errorf("unknown checksum %q (want sha256 or crc32c)", name)
}

// copyBuf is the copy granularity between file, codecs and bucket.
const copyBuf = 1 << 20

// copyBufs is how many copyBuf buffers circulate between the stages: enough
// that no stage waits on another for a short stall, and a bound on memory.
const copyBufs = 8

// piece is one filled buffer on its way through the writer and the hasher;
// it goes back to the free list when both are done with it.
type piece struct {
	b    []byte
	n    int
	left atomic.Int32
}

// copyHashed copies src to dst and returns the hex checksum of the bytes
// copied.
// Reading, writing and hashing run in three goroutines over a ring of
// buffers, so the hash costs no wall time until it is the slowest stage:
// SHA-256 runs at about 1.4 GB/s per core here, as fast as a loopback
// download, and hashing in line with the copy halved restore throughput.
func copyHashed(dst io.Writer, src io.Reader, newHash func() hash.Hash) (int64, string, error) {
	free := make(chan *piece, copyBufs)
	for range copyBufs {
		free <- &piece{b: make([]byte, copyBuf)}
	}
	release := func(p *piece) {
		if p.left.Add(-1) == 0 {
			free <- p
		}
	}
	toWrite := make(chan *piece, copyBufs)
	toHash := make(chan *piece, copyBufs)
	sum := make(chan string, 1)
	go func() {
		h := newHash()
		for p := range toHash {
			h.Write(p.b[:p.n])
			release(p)
		}
		sum <- hex.EncodeToString(h.Sum(nil))
	}()
	werr := make(chan error, 1)
	go func() {
		var err error
		for p := range toWrite {
			if err == nil {
				_, err = dst.Write(p.b[:p.n])
				if err != nil {
					werr <- err // stops the reader early
				}
			}
			release(p)
		}
		close(werr)
	}()
	var n int64
	var err error
	for err == nil {
		var p *piece
		select {
		case p = <-free:
		case err = <-werr:
			continue
		}
		p.n, err = io.ReadFull(src, p.b)
		if p.n == 0 {
			free <- p
		} else {
			n += int64(p.n)
			p.left.Store(2)
			toWrite <- p
			toHash <- p
		}
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	close(toWrite)
	close(toHash)
	if e, ok := <-werr; ok && err == nil {
		err = e
	}
	s := <-sum
	if err != nil {
		return n, "", err
	}
	return n, s, nil
}
