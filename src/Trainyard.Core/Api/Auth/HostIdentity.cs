using System.Security.Cryptography;

namespace Trainyard.Api.Auth;

/// <summary>
/// The identity a server's hosts sign with when the server checks signatures: made once per home and kept
/// in <c>&lt;home&gt;/host-credentials</c> (mode 0600, the shared-credentials format), so that hosts that
/// outlive a restart still sign with a key the restarted server accepts.
/// </summary>
public sealed record HostIdentity(string AccessKeyId, string Secret)
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    public static HostIdentity Of(string home)
    {
        var path = Path.Combine(home, "host-credentials");
        if (File.Exists(path) && CredentialFiles.Parse(File.ReadAllLines(path)).FirstOrDefault() is { Key: { } id, Value: { } secret })
        {
            return new HostIdentity(id, secret);
        }

        var identity = new HostIdentity("TYHOST" + RandomNumberGenerator.GetString(Alphabet, 14), Convert.ToBase64String(RandomNumberGenerator.GetBytes(30)));
        var temp = path + ".tmp";
        File.WriteAllText(temp, "");
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(temp, $"[trainyard-hosts]\naws_access_key_id = {identity.AccessKeyId}\naws_secret_access_key = {identity.Secret}\n");
        File.Move(temp, path, overwrite: true);
        return identity;
    }
}
