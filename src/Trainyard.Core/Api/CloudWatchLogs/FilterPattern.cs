using System.Text;
using Trainyard.Model;

namespace Trainyard.Api.CloudWatchLogs;

/// <summary>
/// CloudWatch Logs' filter patterns for unstructured events, the term form: every plain term must occur,
/// at least one <c>?term</c> must occur when there are any, no <c>-term</c> may occur; <c>"quoted phrases"</c>
/// keep spaces; matching is case-sensitive; an empty pattern matches everything. JSON (<c>{ … }</c>),
/// space-delimited (<c>[ … ]</c>) and regular-expression (<c>%…%</c>) patterns are refused with
/// InvalidParameterException.
/// </summary>
public sealed class FilterPattern
{
    private readonly byte[][] _all;
    private readonly byte[][] _any;
    private readonly byte[][] _none;

    private FilterPattern(byte[][] all, byte[][] any, byte[][] none)
    {
        _all = all;
        _any = any;
        _none = none;
    }

    public bool MatchesEverything => _all.Length == 0 && _any.Length == 0 && _none.Length == 0;

    public static FilterPattern Parse(string? pattern)
    {
        List<byte[]> all = [], any = [], none = [];
        var text = (pattern ?? "").Trim();
        if (text.Length > 0 && text[0] is '{' or '[' or '%')
        {
            throw new ApiException("InvalidParameterException", 400,
                $"Invalid filter pattern '{text}': Trainyard supports term patterns only (ERROR, \"a phrase\", ?ERROR ?WARN, ERROR -retry), not JSON, space-delimited or regular-expression patterns.");
        }

        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                i++;
                continue;
            }

            var list = all;
            if (text[i] == '?')
            {
                list = any;
                i++;
            }
            else if (text[i] == '-' && i + 1 < text.Length && !char.IsWhiteSpace(text[i + 1]))
            {
                list = none;
                i++;
            }

            string term;
            if (i < text.Length && text[i] == '"')
            {
                var end = text.IndexOf('"', i + 1);
                if (end < 0)
                {
                    throw new ApiException("InvalidParameterException", 400, $"Invalid filter pattern '{text}': a quoted term is not closed.");
                }

                term = text[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    i++;
                }

                term = text[start..i];
            }

            if (term.Length > 0)
            {
                list.Add(Encoding.UTF8.GetBytes(term));
            }
        }

        return new FilterPattern([.. all], [.. any], [.. none]);
    }

    public bool Matches(ReadOnlySpan<byte> message)
    {
        foreach (var term in _all)
        {
            if (message.IndexOf(term) < 0)
            {
                return false;
            }
        }

        foreach (var term in _none)
        {
            if (message.IndexOf(term) >= 0)
            {
                return false;
            }
        }

        if (_any.Length == 0)
        {
            return true;
        }

        foreach (var term in _any)
        {
            if (message.IndexOf(term) >= 0)
            {
                return true;
            }
        }

        return false;
    }
}
