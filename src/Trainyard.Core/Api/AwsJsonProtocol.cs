using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Trainyard.Model;

namespace Trainyard.Api;

/// <summary>
/// AWS JSON 1.1 on the wire: <c>POST /</c> with <c>X-Amz-Target: SageMaker.&lt;Operation&gt;</c>, bodies in
/// <c>application/x-amz-json-1.1</c>, errors as <c>{"__type": …, "message": …}</c> with a 4xx status.
/// </summary>
public static class AwsJsonProtocol
{
    public const string ContentType = "application/x-amz-json-1.1";

    /// <summary>The largest request body accepted (SageMaker's own requests are far smaller).</summary>
    public const int MaxBodyBytes = 1 << 20;

    /// <summary>
    /// Reads the whole body, even one that is too large: a server that answers early and closes makes
    /// clients see a connection reset instead of the error.
    /// </summary>
    public static async Task<(byte[]? Body, int Length)> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var length = 0;
        var total = 0L;
        byte[]? body = new byte[0];
        try
        {
            while (true)
            {
                var n = await request.Body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
                if (body is not null && length + n <= MaxBodyBytes)
                {
                    if (length + n > body.Length)
                    {
                        Array.Resize(ref body, Math.Min(MaxBodyBytes, Math.Max(body.Length * 2, length + n)));
                    }

                    buffer.AsSpan(0, n).CopyTo(body.AsSpan(length));
                    length += n;
                }
                else
                {
                    body = null; // too large: keep draining, answer 413
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (body, (int)Math.Min(total, int.MaxValue));
    }

    public static async Task WriteErrorAsync(HttpResponse response, string type, int status, string message)
    {
        response.StatusCode = status;
        response.ContentType = ContentType;
        response.Headers["x-amzn-ErrorType"] = type;
        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartObject();
        writer.WriteString("__type", type);
        writer.WriteString("message", message);
        writer.WriteEndObject();
        await writer.FlushAsync().ConfigureAwait(false);
    }

    public static Task WriteErrorAsync(HttpResponse response, ApiException error) =>
        WriteErrorAsync(response, error.ErrorType, error.StatusCode, error.Message);

    public static async Task WriteAsync<T>(HttpResponse response, T value, JsonTypeInfo<T> type)
    {
        response.StatusCode = 200;
        response.ContentType = ContentType;
        await JsonSerializer.SerializeAsync(response.Body, value, type).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks the body (empty: <c>{}</c>) against the operation's input shape in <paramref name="model"/>, then
    /// reads it as <typeparamref name="T"/>. Type errors are a <c>SerializationException</c>; constraint
    /// violations are thrown as <paramref name="invalid"/> makes them, which each service names its own way.
    /// </summary>
    public static T Parse<T>(
        ReadOnlyMemory<byte> body, ServiceModel.Operation operation, JsonTypeInfo<T> type, int maxDepth, Func<string, ApiException> invalid, ServiceModel? model = null)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body, new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException e)
        {
            throw new ApiException("SerializationException", 400, $"The request body is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var result = RequestValidator.Validate(document.RootElement, operation.Input!, model);
            if (result.TypeErrors.Count > 0)
            {
                throw new ApiException("SerializationException", 400, string.Join(" ", result.TypeErrors));
            }

            if (result.Errors.Count > 0)
            {
                throw invalid(ValidationResult.Format(result.Errors));
            }

            try
            {
                return document.RootElement.Deserialize(type) ?? throw new ApiException("SerializationException", 400, "The request body is null.");
            }
            catch (JsonException e)
            {
                throw new ApiException("SerializationException", 400, $"The request body cannot be read as {operation.Input}: {e.Message}");
            }
        }
    }
}
