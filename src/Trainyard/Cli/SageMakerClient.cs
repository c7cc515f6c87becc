using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Trainyard.Model;

namespace Trainyard.Cli;

/// <summary>A small AWS JSON 1.1 client for the CLI's own calls to a Trainyard (or SageMaker-shaped) endpoint.</summary>
public sealed class SageMakerClient(Uri endpoint) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(100) };

    public Task<CreateTrainingJobResponse> CreateTrainingJobAsync(string requestJson, CancellationToken cancellationToken) =>
        SendAsync("CreateTrainingJob", requestJson, TrainyardJsonContext.Default.CreateTrainingJobResponse, cancellationToken);

    public Task<DescribeTrainingJobResponse> DescribeTrainingJobAsync(string name, CancellationToken cancellationToken) =>
        SendAsync("DescribeTrainingJob", JsonSerializer.Serialize(new DescribeTrainingJobRequest(name), TrainyardJsonContext.Default.DescribeTrainingJobRequest),
            TrainyardJsonContext.Default.DescribeTrainingJobResponse, cancellationToken);

    public Task<ListTrainingJobsResponse> ListTrainingJobsAsync(ListTrainingJobsRequest request, CancellationToken cancellationToken) =>
        SendAsync("ListTrainingJobs", JsonSerializer.Serialize(request, TrainyardJsonContext.Default.ListTrainingJobsRequest),
            TrainyardJsonContext.Default.ListTrainingJobsResponse, cancellationToken);

    public Task<EmptyResponse> StopTrainingJobAsync(string name, CancellationToken cancellationToken) =>
        SendAsync("StopTrainingJob", JsonSerializer.Serialize(new StopTrainingJobRequest(name), TrainyardJsonContext.Default.StopTrainingJobRequest),
            TrainyardJsonContext.Default.EmptyResponse, cancellationToken);

    private async Task<T> SendAsync<T>(string operation, string body, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        JsonSerializer.Deserialize(await CallAsync("SageMaker." + operation, body, cancellationToken).ConfigureAwait(false), type)!;

    /// <summary>Calls any operation by its full X-Amz-Target and returns the JSON answer.</summary>
    public async Task<string> CallAsync(string target, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/")
        {
            Content = new StringContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
        request.Headers.Add("X-Amz-Target", target);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            string type_ = "Error", message = text;
            try
            {
                using var doc = JsonDocument.Parse(text);
                type_ = doc.RootElement.GetProperty("__type").GetString() ?? type_;
                message = doc.RootElement.TryGetProperty("message", out var m) ? m.GetString() ?? text : text;
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // not an AWS error body; show it as it is
            }

            throw new ApiException(type_, (int)response.StatusCode, message);
        }

        return text;
    }

    public void Dispose() => _http.Dispose();
}
