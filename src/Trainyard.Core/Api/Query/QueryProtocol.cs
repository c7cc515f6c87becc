using System.Text;
using System.Xml;
using Microsoft.AspNetCore.Http;
using Trainyard.Model;

namespace Trainyard.Api.Query;

/// <summary>
/// The query protocol's answers: <c>text/xml</c> documents in the service's namespace —
/// <c>&lt;ActionResponse&gt;&lt;ActionResult&gt;…&lt;/ActionResult&gt;&lt;ResponseMetadata&gt;&lt;RequestId&gt;…</c>
/// — and errors as <c>&lt;ErrorResponse&gt;&lt;Error&gt;&lt;Type&gt;Sender&lt;/Type&gt;&lt;Code&gt;…&lt;/Code&gt;&lt;Message&gt;…</c>.
/// </summary>
public static class QueryProtocol
{
    private static readonly XmlWriterSettings Settings = new() { Encoding = new UTF8Encoding(false), Async = true, Indent = false };

    /// <summary>Writes a successful answer; <paramref name="result"/> writes the members inside <c>&lt;ActionResult&gt;</c>.</summary>
    public static async Task WriteAsync(HttpResponse response, string ns, string action, string requestId, Action<XmlWriter> result)
    {
        response.StatusCode = 200;
        response.ContentType = "text/xml";
        var buffer = new MemoryStream();
        using (var xml = XmlWriter.Create(buffer, Settings))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement(action + "Response", ns);
            xml.WriteStartElement(action + "Result", ns);
            result(xml);
            xml.WriteEndElement();
            xml.WriteStartElement("ResponseMetadata", ns);
            xml.WriteElementString("RequestId", ns, requestId);
            xml.WriteEndElement();
            xml.WriteEndElement();
        }

        response.ContentLength = buffer.Length;
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).ConfigureAwait(false);
    }

    public static async Task WriteErrorAsync(HttpResponse response, string ns, string requestId, ApiException error)
    {
        response.StatusCode = error.StatusCode;
        response.ContentType = "text/xml";
        var buffer = new MemoryStream();
        using (var xml = XmlWriter.Create(buffer, Settings))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement("ErrorResponse", ns);
            xml.WriteStartElement("Error", ns);
            xml.WriteElementString("Type", ns, error.StatusCode >= 500 ? "Receiver" : "Sender");
            xml.WriteElementString("Code", ns, error.ErrorType);
            xml.WriteElementString("Message", ns, error.Message);
            xml.WriteEndElement();
            xml.WriteElementString("RequestId", ns, requestId);
            xml.WriteEndElement();
        }

        response.ContentLength = buffer.Length;
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).ConfigureAwait(false);
    }

    /// <summary>ISO 8601 in UTC, as the query services write timestamps.</summary>
    public static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
