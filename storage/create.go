package storage

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/api/googleapi"
)

// EnsureBucket creates the bucket or container if it does not exist.
// gocloud.dev/blob has no bucket creation, so this reaches each native SDK
// through the As escape hatch. Meant for tests, emulators and first setup;
// production buckets are usually made by the operator.
func (b *Bucket) EnsureBucket(ctx context.Context) error {
	var err error
	switch b.scheme {
	case "file":
		return nil
	case "azblob":
		var c *container.Client
		if !b.base.As(&c) {
			return errors.New("ensure bucket: azblob client unavailable")
		}
		_, err = c.Create(ctx, nil)
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.ErrorCode == "ContainerAlreadyExists" {
			err = nil
		}
	case "s3":
		var c *s3.Client
		if !b.base.As(&c) {
			return errors.New("ensure bucket: s3 client unavailable")
		}
		if _, herr := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.name)}); herr == nil {
			return nil
		}
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name)})
		if err != nil {
			if _, herr := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.name)}); herr == nil {
				err = nil // created meanwhile
			}
		}
	case "gs":
		var c *storage.Client
		if !b.base.As(&c) {
			return errors.New("ensure bucket: gcs client unavailable")
		}
		err = c.Bucket(b.name).Create(ctx, "wskx", nil)
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == 409 {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("ensure bucket %s: %s", b.safe, scrub(err.Error(), b.hide))
	}
	return nil
}
