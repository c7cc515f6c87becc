namespace Trainyard.Model;

/// <summary>An error the API answers with: an AWS error code (<c>__type</c>), an HTTP status and a message.</summary>
public class ApiException(string errorType, int statusCode, string message) : Exception(message)
{
    public string ErrorType { get; } = errorType;

    public int StatusCode { get; } = statusCode;
}

/// <summary><c>ValidationException</c> (400): the request breaks a rule; the message says which and how to fix it.</summary>
public sealed class ApiValidationException(string message) : ApiException("ValidationException", 400, message);

/// <summary><c>ResourceInUse</c> (400).</summary>
public sealed class ResourceInUseException(string message) : ApiException("ResourceInUse", 400, message);

/// <summary><c>ResourceNotFound</c> (400).</summary>
public sealed class ResourceNotFoundException(string message) : ApiException("ResourceNotFound", 400, message);

/// <summary><c>ResourceLimitExceeded</c> (400).</summary>
public sealed class ResourceLimitExceededException(string message) : ApiException("ResourceLimitExceeded", 400, message);
