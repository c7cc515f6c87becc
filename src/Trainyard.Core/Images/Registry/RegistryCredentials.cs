using System.Text;
using System.Text.Json;

namespace Trainyard.Images.Registry;

/// <summary>
/// Registry credentials the way Docker and Podman keep them: <c>$REGISTRY_AUTH_FILE</c>, Podman's
/// <c>$XDG_RUNTIME_DIR/containers/auth.json</c>, then <c>$DOCKER_CONFIG/config.json</c> (default
/// <c>~/.docker/config.json</c>); each has <c>{"auths": {"host[:port]": {"auth": base64("user:password")}}}</c>.
/// Credential helpers (<c>credHelpers</c>, <c>credsStore</c>) are not run.
/// </summary>
public static class RegistryCredentials
{
    /// <summary>The files searched, in order.</summary>
    public static IEnumerable<string> Files()
    {
        if (Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE") is { Length: > 0 } auth)
        {
            yield return auth;
        }

        if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime)
        {
            yield return Path.Combine(runtime, "containers", "auth.json");
        }

        var dockerConfig = Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } dc
            ? dc
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        yield return Path.Combine(dockerConfig, "config.json");
    }

    /// <summary>The user name and password for <paramref name="registryHost"/>, or null.</summary>
    public static (string User, string Password)? Find(string registryHost)
    {
        var keys = new List<string> { registryHost, "https://" + registryHost, "http://" + registryHost, "https://" + registryHost + "/v1/", "https://" + registryHost + "/v2/" };
        if (registryHost is "registry-1.docker.io" or "docker.io" or "index.docker.io")
        {
            keys.AddRange(["https://index.docker.io/v1/", "docker.io", "index.docker.io", "registry-1.docker.io"]);
        }

        foreach (var file in Files())
        {
            if (!File.Exists(file))
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
                if (!doc.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                foreach (var key in keys)
                {
                    if (auths.TryGetProperty(key, out var entry) && entry.TryGetProperty("auth", out var value) && value.GetString() is { Length: > 0 } encoded)
                    {
                        var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                        if (colon > 0)
                        {
                            return (decoded[..colon], decoded[(colon + 1)..]);
                        }
                    }
                }
            }
            catch (Exception e) when (e is JsonException or FormatException or IOException or UnauthorizedAccessException)
            {
                throw new ImagePullException($"cannot read the registry credentials in {file}: {e.Message}");
            }
        }

        return null;
    }
}
