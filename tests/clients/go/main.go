// pod-probe: aws-sdk-go-v2 against podiam, run the way a pod runs it.
//
// Credentials come only from the SDK's default chain (IRSA: AWS_ROLE_ARN +
// AWS_WEB_IDENTITY_TOKEN_FILE; Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI
// + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), the endpoint from AWS_ENDPOINT_URL
// (or AWS_ENDPOINT_URL_<SVC>), the region from AWS_REGION. The only client
// setting made in code is S3's path-style addressing (podiam serves path style
// on its port).
//
// Calls: STS GetCallerIdentity; S3 ListObjectsV2, PutObject, GetObject on
// PROBE_BUCKET and AccessDenied on PROBE_DENIED_BUCKET; the carts service's
// DynamoDB calls on PROBE_TABLE (PutItem, GetItem, UpdateItem ALL_NEW, the
// index Query two at a time through the paginator, DeleteItem ALL_OLD) and
// AccessDeniedException on PROBE_DENIED_TABLE. Prints one JSON summary line,
// then "GO POD PROBE OK"; exits 1 at the first unexpected result.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// CartItem is one cart line as the carts service stores it: partition key id,
// customerId the partition key of the GSI idx_global_customerId.
type CartItem struct {
	ID         string `dynamodbav:"id"`
	CustomerID string `dynamodbav:"customerId"`
	ItemID     string `dynamodbav:"itemId"`
	Quantity   int    `dynamodbav:"quantity"`
	UnitPrice  int    `dynamodbav:"unitPrice"`
}

const customerIndex = "idx_global_customerId"

type failure struct{ msg string }

func (f failure) Error() string { return f.msg }

// check stops the probe with a message when cond is false.
func check(cond bool, format string, args ...any) {
	if !cond {
		panic(failure{fmt.Sprintf(format, args...)})
	}
}

// must stops the probe on an unexpected error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(failure{describe(err)})
	}
	return v
}

func describe(err error) string {
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if errors.As(err, &ae) && errors.As(err, &re) {
		return fmt.Sprintf("%s (HTTP %d): %s [%v]", ae.ErrorCode(), re.HTTPStatusCode(), ae.ErrorMessage(), err)
	}
	return err.Error()
}

func env(name, dflt string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return dflt
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lastRequest records the headers of the last request that left the SDK.
type lastRequest struct {
	mu  sync.Mutex
	req *http.Request
}

func (l *lastRequest) middleware(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("podProbeLastRequest",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if r, ok := in.Request.(*smithyhttp.Request); ok {
				l.mu.Lock()
				l.req = r.Request.Clone(ctx)
				l.mu.Unlock()
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

func (l *lastRequest) summary(names ...string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]any{}
	if l.req == nil {
		return m
	}
	m["method"] = l.req.Method
	m["path"] = l.req.URL.EscapedPath()
	for _, n := range names {
		if v := l.req.Header.Get(n); v != "" {
			m[n] = v
		} else {
			m[n] = nil
		}
	}
	if l.req.ContentLength >= 0 {
		m["content-length"] = l.req.ContentLength
	}
	return m
}

func main() {
	stage := "start"
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(failure); ok {
				fmt.Fprintf(os.Stderr, "pod-probe FAILED at %s: %s\n", stage, f.msg)
			} else {
				fmt.Fprintf(os.Stderr, "pod-probe FAILED at %s: panic: %v\n", stage, r)
			}
			os.Exit(1)
		}
	}()
	ctx := context.Background()
	out := map[string]any{"sdk": "aws-sdk-go-v2", "sdkVersion": aws.SDKVersion}

	stage = "config"
	// Everything from the environment: region, endpoint, credential chain.
	cfg := must(config.LoadDefaultConfig(ctx))
	check(cfg.Region != "", "no region in the environment")
	out["region"] = cfg.Region

	stage = "credentials"
	credentials(ctx, cfg, out)
	stage = "sts"
	stsCalls(ctx, cfg, out)
	stage = "sts errors"
	stsErrors(ctx, cfg, out)
	stage = "refresh"
	refresh(ctx, cfg, out)
	stage = "s3"
	s3Calls(ctx, cfg, out)
	stage = "dynamodb"
	dynamodbCalls(ctx, cfg, out)

	line, err := json.Marshal(out)
	check(err == nil, "json: %v", err)
	fmt.Println(string(line))
	fmt.Println("GO POD PROBE OK")
}

func credentials(ctx context.Context, cfg aws.Config, out map[string]any) {
	irsa := os.Getenv("AWS_ROLE_ARN") != ""
	container := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != ""
	check(irsa != container, "set exactly one of AWS_ROLE_ARN (IRSA) and AWS_CONTAINER_CREDENTIALS_FULL_URI (Pod Identity)")
	if irsa {
		out["mode"] = "irsa"
	} else {
		out["mode"] = "pod-identity"
		out["containerCredentialsFullUri"] = os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	}
	c := must(cfg.Credentials.Retrieve(ctx))
	check(strings.HasPrefix(c.AccessKeyID, "ASIA"), "access key id %s is not a session key", c.AccessKeyID)
	check(c.SessionToken != "", "no session token")
	check(c.CanExpire && !c.Expires.IsZero(), "session credentials without an expiration")
	out["credentialsSource"] = c.Source
	out["expiration"] = c.Expires.UTC().Format("2006-01-02T15:04:05Z")
	want := "WebIdentityCredentials"
	if container {
		want = "CredentialsEndpointProvider"
	}
	check(c.Source == want, "credentials came from %q, expected %q", c.Source, want)
}

func stsCalls(ctx context.Context, cfg aws.Config, out map[string]any) {
	client := sts.NewFromConfig(cfg)
	me := must(client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	arn := aws.ToString(me.Arn)
	out["arn"] = arn
	out["account"] = aws.ToString(me.Account)
	check(strings.HasPrefix(arn, "arn:aws:sts::") && strings.Contains(arn, ":assumed-role/"), "not an assumed-role ARN: %s", arn)
	parts := strings.Split(arn, "/")
	check(len(parts) == 3, "unexpected ARN shape: %s", arn)
	if roleArn := os.Getenv("AWS_ROLE_ARN"); roleArn != "" {
		role := roleArn[strings.LastIndex(roleArn, "/")+1:]
		check(parts[1] == role, "assumed role %s, expected %s", parts[1], role)
	}
	if want := os.Getenv("PROBE_EXPECT_ROLE"); want != "" {
		check(parts[1] == want, "assumed role %s, expected %s", parts[1], want)
	}
	// IRSA: the name the SDK's web identity provider generated (no
	// AWS_ROLE_SESSION_NAME): the time in nanoseconds. Pod Identity: eks-auth's.
	out["sessionName"] = parts[2]
	if os.Getenv("AWS_ROLE_ARN") != "" && os.Getenv("AWS_ROLE_SESSION_NAME") == "" {
		check(regexp.MustCompile(`^\d+$`).MatchString(parts[2]), "session name %s is not the SDK's <unix nanoseconds>", parts[2])
	}
	// Pod Identity: the kubelet rotates the token file; the container provider
	// must read it again on its next refresh (forced here with the cache's
	// Invalidate), and eks-auth then names the new token's pod.
	if next := os.Getenv("PROBE_NEXT_POD_TOKEN"); next != "" {
		file := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
		check(os.WriteFile(file, []byte(next), 0o600) == nil, "cannot rewrite %s", file)
		cache, ok := cfg.Credentials.(*aws.CredentialsCache)
		check(ok, "the default chain's credentials are a %T, not an *aws.CredentialsCache", cfg.Credentials)
		cache.Invalidate()
		again := aws.ToString(must(client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).Arn)
		pod := os.Getenv("PROBE_NEXT_POD_NAME")
		check(strings.Contains(again, "-"+pod+"-"), "after the token rotated to pod %s, the session is %s", pod, again)
		out["arnAfterTokenRotation"] = again
	}
}

func s3Calls(ctx context.Context, cfg aws.Config, out map[string]any) {
	bucket := env("PROBE_BUCKET", "pod-probe")
	denied := env("PROBE_DENIED_BUCKET", "pod-probe-denied")
	wire := &lastRequest{}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.APIOptions = append(o.APIOptions, wire.middleware)
	})
	r := map[string]any{"bucket": bucket}
	prefix := "go-probe/" + randomID() + "/"

	before := must(client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix}))
	check(aws.ToInt32(before.KeyCount) == 0 && len(before.Contents) == 0, "fresh prefix not empty: %d keys", len(before.Contents))

	key := prefix + "hello.txt"
	body := []byte("hello from aws-sdk-go-v2 " + aws.SDKVersion + "\n")
	put := must(client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(body), ContentType: aws.String("text/plain"),
	}))
	check(aws.ToString(put.ETag) != "", "PutObject without an ETag")
	r["putObject"] = map[string]any{"key": key, "etag": aws.ToString(put.ETag), "sent": wire.summary(
		"X-Amz-Content-Sha256", "Content-Encoding", "X-Amz-Trailer", "X-Amz-Decoded-Content-Length",
		"X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Crc32", "Content-Md5")}

	after := must(client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix}))
	var keys []string
	for _, o := range after.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	check(len(keys) == 1 && keys[0] == key, "ListObjectsV2 after put: %v", keys)
	check(aws.ToInt64(after.Contents[0].Size) == int64(len(body)), "listed size %d, put %d", aws.ToInt64(after.Contents[0].Size), len(body))
	r["listObjectsV2"] = keys

	got := must(client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key}))
	data := must(io.ReadAll(got.Body))
	_ = got.Body.Close()
	check(bytes.Equal(data, body), "GetObject returned other bytes: %q", data)
	check(aws.ToString(got.ETag) == aws.ToString(put.ETag), "ETag %s != %s", aws.ToString(got.ETag), aws.ToString(put.ETag))
	r["getObject"] = map[string]any{"bytes": len(data), "contentType": aws.ToString(got.ContentType)}

	must(client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}))

	// 6 MiB with the SDK's default checksums, then a stream it cannot seek
	// (unknown length); each read back byte for byte.
	big := make([]byte, 6<<20)
	must(rand.Read(big))
	bigKey := prefix + "six-mib.bin"
	must(client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &bigKey, Body: bytes.NewReader(big)}))
	bigSent := wire.summary("X-Amz-Content-Sha256", "Content-Encoding", "X-Amz-Trailer",
		"X-Amz-Decoded-Content-Length", "X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Crc32")
	check(bytes.Equal(readObject(ctx, client, bucket, bigKey), big), "6 MiB GetObject returned other bytes")
	// A stream of unknown length: over plain http the SDK refuses an
	// unseekable PutObject body, so, as Go programs do, through the transfer
	// manager, which buffers 5 MiB parts: a multipart upload of three.
	streamKey := prefix + "stream.bin"
	stream := append(append([]byte{}, big...), big[:5<<20+17]...)
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes, o.MultipartUploadThreshold = 5<<20, 5<<20
	})
	must(tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: &bucket, Key: &streamKey,
		Body: io.MultiReader(bytes.NewReader(stream[:1<<20]), bytes.NewReader(stream[1<<20:])),
	}))
	streamSent := wire.summary("X-Amz-Content-Sha256", "Content-Encoding", "X-Amz-Trailer",
		"X-Amz-Decoded-Content-Length", "X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Crc32")
	check(bytes.Equal(readObject(ctx, client, bucket, streamKey), stream), "streamed GetObject returned other bytes")
	head := must(client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &streamKey}))
	check(strings.HasSuffix(strings.Trim(aws.ToString(head.ETag), `"`), "-3"), "streamed upload ETag %s is not a 3-part multipart ETag", aws.ToString(head.ETag))
	r["large"] = map[string]any{"bytes": len(big), "sent": bigSent}
	r["stream"] = map[string]any{"bytes": len(stream), "sent": streamSent}
	for _, k := range []string{bigKey, streamKey} {
		must(client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(k)}))
	}

	// A bucket the role may not touch: 403 AccessDenied, on a read and on a write.
	r["denied"] = []any{
		expectDenied("ListObjectsV2", 403, "AccessDenied", "", func() error {
			_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &denied})
			return err
		}),
		expectDenied("PutObject", 403, "AccessDenied", "", func() error {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &denied, Key: aws.String("x"), Body: strings.NewReader("x")})
			return err
		}),
	}
	out["s3"] = r
}

// refresh runs a client for PROBE_REFRESH_SECONDS on the pod's web identity
// credentials with 15-minute sessions (DurationSeconds 900, STS's minimum),
// refreshed 5 s after each fetch (the cache's expiry window is the rest of
// the session): every call must succeed across the refreshes, each of which
// re-reads the token file and assumes the role again.
func refresh(ctx context.Context, cfg aws.Config, out map[string]any) {
	seconds, _ := strconv.Atoi(os.Getenv("PROBE_REFRESH_SECONDS"))
	if seconds == 0 || os.Getenv("AWS_ROLE_ARN") == "" {
		return
	}
	provider := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), os.Getenv("AWS_ROLE_ARN"),
		stscreds.IdentityTokenFile(os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE")),
		func(o *stscreds.WebIdentityRoleOptions) { o.Duration = 15 * time.Minute })
	window := 15*time.Minute - 5*time.Second
	cache := aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window })
	refreshing := cfg.Copy()
	refreshing.Credentials = cache
	client := sts.NewFromConfig(refreshing)
	sessions := map[string]bool{}
	calls := 0
	var lifetime time.Duration
	for end := time.Now().Add(time.Duration(seconds) * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		must(client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
		c := must(cache.Retrieve(ctx))
		if !sessions[c.AccessKeyID] {
			// The cache reports the expiry minus its window.
			lifetime = time.Until(c.Expires) + window
		}
		sessions[c.AccessKeyID] = true
		calls++
	}
	check(len(sessions) >= 2, "%d calls in %d s used %d session(s): no refresh", calls, seconds, len(sessions))
	check(lifetime > 14*time.Minute && lifetime <= 15*time.Minute, "a session lasts %s, asked for 15m", lifetime)
	out["refresh"] = map[string]any{"calls": calls, "sessions": len(sessions), "sessionSeconds": int(lifetime.Round(time.Minute).Seconds())}
}

func readObject(ctx context.Context, client *s3.Client, bucket, key string) []byte {
	got := must(client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key}))
	defer got.Body.Close()
	return must(io.ReadAll(got.Body))
}

// stsErrors presents the tokens the test made to AssumeRoleWithWebIdentity
// (unsigned, as the SDK's web identity provider does) and records STS's
// error code and status for each: PROBE_BAD_TOKEN_<CASE> for the cases
// below, against PROBE_BAD_TOKEN_ROLE.
func stsErrors(ctx context.Context, cfg aws.Config, out map[string]any) {
	role := os.Getenv("PROBE_BAD_TOKEN_ROLE")
	if role == "" {
		return
	}
	anon := cfg.Copy()
	anon.Credentials = aws.AnonymousCredentials{}
	client := sts.NewFromConfig(anon)
	cases := map[string]any{}
	for _, c := range []struct {
		name, code string
		status     int
	}{
		{"WRONG_NAMESPACE", "AccessDenied", 403},
		{"EDITED_PAYLOAD", "InvalidIdentityToken", 400},
		{"EXPIRED", "ExpiredTokenException", 400},
	} {
		token := os.Getenv("PROBE_BAD_TOKEN_" + c.name)
		check(token != "", "PROBE_BAD_TOKEN_%s is not set", c.name)
		cases[c.name] = expectDenied("AssumeRoleWithWebIdentity "+c.name, c.status, c.code, "", func() error {
			_, err := client.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: &role, RoleSessionName: aws.String("bad-token"), WebIdentityToken: &token,
			})
			return err
		})
	}
	out["stsErrors"] = cases
}

// expectDenied runs call and requires the error code and HTTP status; when
// action is set, the message must name it the way AWS does.
func expectDenied(op string, status int, code, action string, call func() error) map[string]any {
	err := call()
	check(err != nil, "%s on the denied resource succeeded", op)
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	check(errors.As(err, &ae) && errors.As(err, &re), "%s: not an API error: %v", op, err)
	check(ae.ErrorCode() == code && re.HTTPStatusCode() == status, "%s: expected %s (HTTP %d), got %s", op, code, status, describe(err))
	if action != "" {
		check(strings.Contains(ae.ErrorMessage(), "is not authorized to perform: "+action), "%s denial message: %s", op, ae.ErrorMessage())
	}
	rid, _ := middlewareRequestID(err)
	return map[string]any{"op": op, "status": re.HTTPStatusCode(), "code": ae.ErrorCode(), "requestId": rid}
}

func middlewareRequestID(err error) (string, bool) {
	var re interface{ ServiceRequestID() string }
	if errors.As(err, &re) {
		return re.ServiceRequestID(), true
	}
	return "", false
}

func dynamodbCalls(ctx context.Context, cfg aws.Config, out map[string]any) {
	table := env("PROBE_TABLE", "eks-workshop-carts")
	deniedTable := env("PROBE_DENIED_TABLE", "other-table")
	// The client validates x-amz-crc32 on every response by default.
	client := dynamodb.NewFromConfig(cfg)
	r := map[string]any{"table": table}
	customer := "go-" + randomID()
	first := customer + ":item1"
	key := func(id string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: id}}
	}

	// PutItem, GetItem.
	item := must(attributevalue.MarshalMap(CartItem{ID: first, CustomerID: customer, ItemID: "item1", Quantity: 1, UnitPrice: 10}))
	must(client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}))
	got := must(client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(first), ConsistentRead: aws.Bool(true)}))
	var gotItem CartItem
	check(got.Item != nil, "GetItem after PutItem: no item")
	must(0, attributevalue.UnmarshalMap(got.Item, &gotItem))
	check(gotItem == CartItem{ID: first, CustomerID: customer, ItemID: "item1", Quantity: 1, UnitPrice: 10}, "GetItem after PutItem: %+v", gotItem)
	r["putItem"] = first
	r["getItem"] = gotItem

	// UpdateItem, ReturnValues ALL_NEW.
	upd := must(client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &table,
		Key:                       key(first),
		UpdateExpression:          aws.String("SET quantity = quantity + :q"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":q": &ddbtypes.AttributeValueMemberN{Value: "2"}},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	}))
	var updated CartItem
	must(0, attributevalue.UnmarshalMap(upd.Attributes, &updated))
	check(updated == CartItem{ID: first, CustomerID: customer, ItemID: "item1", Quantity: 3, UnitPrice: 10}, "UpdateItem ALL_NEW: %+v", updated)
	r["updateItemAllNew"] = map[string]any{"quantity": updated.Quantity, "attributes": len(upd.Attributes)}

	// Four more lines, then the index Query two at a time through the paginator.
	for i := 2; i <= 5; i++ {
		it := must(attributevalue.MarshalMap(CartItem{ID: fmt.Sprintf("%s:item%d", customer, i), CustomerID: customer, ItemID: fmt.Sprintf("item%d", i), Quantity: i, UnitPrice: 10 * i}))
		must(client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it}))
	}
	pages := dynamodb.NewQueryPaginator(client, &dynamodb.QueryInput{
		TableName:                 &table,
		IndexName:                 aws.String(customerIndex),
		KeyConditionExpression:    aws.String("customerId = :c"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberS{Value: customer}},
		Limit:                     aws.Int32(2),
	})
	var pageSizes []int
	var ids []string
	for pages.HasMorePages() {
		page := must(pages.NextPage(ctx))
		check(len(page.Items) <= 2, "a page of %d items with Limit 2", len(page.Items))
		check(int(page.Count) == len(page.Items), "Count %d for %d items", page.Count, len(page.Items))
		pageSizes = append(pageSizes, len(page.Items))
		var items []CartItem
		must(0, attributevalue.UnmarshalListOfMaps(page.Items, &items))
		for _, it := range items {
			check(it.CustomerID == customer, "index Query returned %+v", it)
			ids = append(ids, it.ID)
		}
	}
	sort.Strings(ids)
	var want []string
	for i := 1; i <= 5; i++ {
		want = append(want, fmt.Sprintf("%s:item%d", customer, i))
	}
	check(strings.Join(ids, ",") == strings.Join(want, ","), "index Query items %v, expected %v", ids, want)
	check(len(pageSizes) >= 3, "5 items with Limit 2 in %d pages: %v", len(pageSizes), pageSizes)
	r["queryIndexPages"] = pageSizes

	// DeleteItem, ReturnValues ALL_OLD, for all five.
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("%s:item%d", customer, i)
		del := must(client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key(id), ReturnValues: ddbtypes.ReturnValueAllOld}))
		var old CartItem
		must(0, attributevalue.UnmarshalMap(del.Attributes, &old))
		wantQ := i
		if i == 1 {
			wantQ = 3
		}
		check(old.ID == id && old.Quantity == wantQ, "DeleteItem ALL_OLD of %s: %+v", id, old)
		if i == 1 {
			r["deleteItemAllOld"] = map[string]any{"id": old.ID, "quantity": old.Quantity}
		}
	}
	gone := must(client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(first), ConsistentRead: aws.Bool(true)}))
	check(gone.Item == nil, "item still there after DeleteItem: %v", gone.Item)

	// A table the role may not touch.
	r["denied"] = []any{
		expectDenied("GetItem", 400, "AccessDeniedException", "dynamodb:GetItem", func() error {
			_, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &deniedTable, Key: key("x")})
			return err
		}),
		expectDenied("PutItem", 400, "AccessDeniedException", "dynamodb:PutItem", func() error {
			_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &deniedTable, Item: key("x")})
			return err
		}),
	}
	out["dynamodb"] = r
}
