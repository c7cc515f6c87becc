// The AWS CLI's own ceiling for `aws s3 cp`: an S3 endpoint that costs next to nothing. Uploads are read
// and discarded (every part answers an ETag, CreateMultipartUpload an upload id, Complete an ETag);
// downloads are served from one preallocated buffer of zeros, as big as asked. What the CLI achieves
// against it is what the client itself can do on this machine.
//   node bench/s3-null-server.js PORT SIZE_BYTES
const http = require("http");
const [port, size] = [Number(process.argv[2]), Number(process.argv[3])];
const chunk = Buffer.alloc(8 << 20);
http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    const url = new URL(req.url, "http://x");
    const xml = (s) => { res.writeHead(200, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(s) }); res.end(s); };
    if (req.method === "POST" && url.searchParams.has("uploads")) return xml("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId></InitiateMultipartUploadResult>");
    if (req.method === "POST") return xml('<CompleteMultipartUploadResult><ETag>"x-1"</ETag></CompleteMultipartUploadResult>');
    if (req.method === "PUT") { res.writeHead(200, { ETag: '"0123456789abcdef0123456789abcdef"', "Content-Length": 0 }); return res.end(); }
    const headers = { "Content-Length": size, ETag: '"x-1"', "Last-Modified": new Date(0).toUTCString(), "Accept-Ranges": "bytes" };
    let [start, end] = [0, size - 1];
    const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range || "");
    if (m) { start = Number(m[1]); end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1; }
    headers["Content-Length"] = end - start + 1;
    if (m) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(m ? 206 : 200, headers);
    if (req.method === "HEAD") return res.end();
    let left = end - start + 1;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
}).listen(port, "127.0.0.1");
