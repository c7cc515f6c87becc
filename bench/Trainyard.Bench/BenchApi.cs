using System.Net.Http.Headers;
using System.Text;

namespace Trainyard.Bench;

/// <summary>The benchmarks' one way of calling a SageMaker operation on a Trainyard server.</summary>
internal static class BenchApi
{
    /// <summary>Sends <paramref name="body"/> to <c>SageMaker.&lt;operation&gt;</c>; the caller disposes the answer.</summary>
    public static async Task<HttpResponseMessage> CallAsync(HttpClient http, string operation, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
        request.Headers.Add("X-Amz-Target", "SageMaker." + operation);
        return await http.SendAsync(request);
    }
}
