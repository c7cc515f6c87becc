using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Trainyard.Model;

namespace Trainyard.Api.CloudWatchLogs;

/// <summary>
/// The pagination tokens of the CloudWatch Logs facade. GetLogEvents tokens name a line position in one
/// stream (<c>f/…</c> forward, <c>b/…</c> backward, as CloudWatch spells them) with a check of the stream
/// they belong to; FilterLogEvents and DescribeLogStreams tokens name where the next page starts. Tokens
/// are positions, not snapshots: paging continues correctly while hosts keep writing.
/// </summary>
internal static partial class LogTokens
{
    private static readonly ApiException Invalid = new("InvalidParameterException", 400, "The specified nextToken is invalid.");

    public static string Forward(string stream, long position) => $"f/{position:D20}/{StreamCheck(stream)}";

    public static string Backward(string stream, long position) => $"b/{position:D20}/{StreamCheck(stream)}";

    /// <summary>Reads a GetLogEvents token of <paramref name="stream"/>; positions past <paramref name="count"/> were never issued.</summary>
    public static (bool Forward, long Position) ReadEventsToken(string token, string stream, long count)
    {
        var match = EventsToken().Match(token);
        if (!match.Success || match.Groups[3].Value != StreamCheck(stream)
            || !long.TryParse(match.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var position) || position > count)
        {
            throw Invalid;
        }

        return (match.Groups[1].Value == "f", position);
    }

    /// <summary>A FilterLogEvents token: the next event to return is the first at or after this key.</summary>
    public static string Filter(long timestamp, string stream, long position) =>
        Encode(string.Create(CultureInfo.InvariantCulture, $"e1|{timestamp}|{position}|{stream}"));

    public static (long Timestamp, string Stream, long Position) ReadFilterToken(string token)
    {
        var parts = Decode(token).Split('|', 4);
        if (parts is not ["e1", var ts, var pos, var stream]
            || !long.TryParse(ts, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp)
            || !long.TryParse(pos, NumberStyles.None, CultureInfo.InvariantCulture, out var position))
        {
            throw Invalid;
        }

        return (timestamp, stream, position);
    }

    /// <summary>A DescribeLogStreams token: the sort key of the last stream returned.</summary>
    public static string Streams(string key) => Encode("s1|" + key);

    public static string ReadStreamsToken(string token) =>
        Decode(token) is { } text && text.StartsWith("s1|", StringComparison.Ordinal) ? text[3..] : throw Invalid;

    /// <summary>A stable event id, unique in the log group: timestamp, stream and position, 50 digits.</summary>
    public static string EventId(long timestamp, uint streamHash, long position) =>
        string.Create(CultureInfo.InvariantCulture, $"{timestamp:D20}{streamHash:D10}{position:D20}");

    /// <summary>FNV-1a over the stream name's UTF-16 code units: stable across processes and versions.</summary>
    public static uint StreamHash(string stream)
    {
        var hash = 2166136261u;
        foreach (var c in stream)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }

    private static string StreamCheck(string stream) => StreamHash(stream).ToString("x8", CultureInfo.InvariantCulture);

    private static string Encode(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Decode(string token)
    {
        try
        {
            var b64 = token.Replace('-', '+').Replace('_', '/');
            b64 += new string('=', (4 - (b64.Length % 4)) % 4);
            return Encoding.UTF8.GetString(Convert.FromBase64String(b64));
        }
        catch (FormatException)
        {
            throw Invalid;
        }
    }

    [GeneratedRegex("^([fb])/([0-9]{20})/([0-9a-f]{8})$", RegexOptions.CultureInvariant)]
    private static partial Regex EventsToken();
}
