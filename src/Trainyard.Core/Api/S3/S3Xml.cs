using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http;

namespace Trainyard.Api.S3;

/// <summary>S3's XML: answers in its namespace, timestamps as it writes them, request documents read with limits.</summary>
internal static class S3Xml
{
    public const string Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

    /// <summary>Request documents (CompleteMultipartUpload of 10,000 parts, Delete of 1,000 keys) are well under this.</summary>
    public const int MaxRequestDocumentBytes = 4 << 20;

    private static readonly XmlWriterSettings Settings = new() { Encoding = new UTF8Encoding(false), Indent = false, Async = false };

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string HttpDate(DateTimeOffset time) => time.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);

    public static async Task WriteAsync(HttpResponse response, int status, string root, Action<XmlWriter> body, bool withNamespace = true)
    {
        using var buffer = new MemoryStream();
        using (var writer = XmlWriter.Create(buffer, Settings))
        {
            writer.WriteStartDocument();
            if (withNamespace)
            {
                writer.WriteStartElement(root, Namespace);
            }
            else
            {
                writer.WriteStartElement(root);
            }

            body(writer);
            writer.WriteEndElement();
            writer.WriteEndDocument();
        }

        response.StatusCode = status;
        response.ContentType = "application/xml";
        response.ContentLength = buffer.Length;
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), response.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    public static void Element(this XmlWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteElementString(name, value);
        }
    }

    /// <summary>Reads a request's XML document (a few MiB at most); MalformedXML when it is not one.</summary>
    public static async Task<XElement> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxRequestDocumentBytes)
        {
            throw S3Exception.MalformedXml($"the document is {request.ContentLength} bytes; the largest accepted is {MaxRequestDocumentBytes}.");
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > MaxRequestDocumentBytes)
            {
                throw S3Exception.MalformedXml($"the document is longer than {MaxRequestDocumentBytes} bytes.");
            }
        }

        if (buffer.Length == 0)
        {
            throw S3Exception.MalformedXml("the request has no body.");
        }

        buffer.Position = 0;
        try
        {
            using var reader = XmlReader.Create(buffer, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            return XElement.Load(reader);
        }
        catch (XmlException e)
        {
            throw S3Exception.MalformedXml(e.Message);
        }
    }

    /// <summary>The child elements named <paramref name="name"/>, in any namespace (clients send S3's or none).</summary>
    public static IEnumerable<XElement> Children(this XElement element, string name) => element.Elements().Where(e => e.Name.LocalName == name);

    public static string? ChildValue(this XElement element, string name) => element.Children(name).FirstOrDefault()?.Value;
}
