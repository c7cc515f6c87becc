using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Trainyard.DataPlane;
using Trainyard.Images;
using Trainyard.Images.Cache;
using Trainyard.Images.Registry;

namespace Trainyard.Cli;

/// <summary><c>trainyard images pull / list / rm / prune</c>: the image cache under <c>&lt;home&gt;/images</c>.</summary>
internal static class ImagesCommand
{
    public static Command Create()
    {
        var command = new Command("images", "Manage the image cache (<home>/images): pull, list, rm, prune");
        command.Subcommands.Add(Pull());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(Prune());
        return command;
    }

    private static Command Pull()
    {
        var reference = new Argument<string>("IMAGE") { Description = "registry/repo:tag, repo@sha256:…, oci:DIR[:tag], oci-archive:FILE, docker-archive:FILE, or a name of the image map" };
        var command = new Command("pull", "Pull an image into the cache (again, when it is already there)") { reference };
        AddCacheOptions(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            var (cache, map, registry) = Open(result);
            var location = Locate(result.GetValue(reference)!, map);
            var console = Terminal.Console;
            var last = DateTime.MinValue;
            var puller = new ImagePuller(cache, registry);
            try
            {
                var image = await puller.PullAsync(location, refresh: true, line => console.MarkupLine($"[grey]{Markup.Escape(line)}[/]"), p =>
                {
                    if (p.LayersDone != p.LayersTotal && (DateTime.UtcNow - last).TotalMilliseconds < 500)
                    {
                        return;
                    }

                    last = DateTime.UtcNow;
                    console.MarkupLine($"[grey]{Markup.Escape(ProgressLine(p))}[/]");
                }, cancellationToken).ConfigureAwait(false);
                console.MarkupLine($"{Markup.Escape(location.Display)} [green]{Markup.Escape(image.ManifestDigest)}[/]");
                return 0;
            }
            catch (ImagePullException e)
            {
                throw new CliException($"cannot pull {location.Display}: {e.Message}");
            }
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the cached images");
        AddCacheOptions(command);
        command.SetAction(result =>
        {
            var (cache, _, _) = Open(result);
            var table = new Table().AddColumns("IMAGE", "DIGEST", "SIZE", "LAYERS", "PULLED");
            table.Border = TableBorder.None;
            foreach (var image in cache.ListRefs().OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                table.AddRow(
                    Markup.Escape(Display(image.Name)),
                    Markup.Escape(image.ManifestDigest[..Math.Min(19, image.ManifestDigest.Length)]),
                    FileChannelLoader.Format(image.Size),
                    image.Layers.Count.ToString(CultureInfo.InvariantCulture),
                    image.Pulled.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
            }

            Terminal.Console.Write(table);
            return 0;
        });
        return command;
    }

    private static Command Remove()
    {
        var references = new Argument<string[]>("IMAGE") { Description = "Images to remove, as pulled", Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "Remove images from the cache (their layers go unless another image or a running job uses them)") { references };
        AddCacheOptions(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            var (cache, map, _) = Open(result);
            var missing = new List<string>();
            foreach (var name in result.GetValue(references)!)
            {
                var location = Locate(name, map);
                if (cache.RemoveRef(location.ToString()))
                {
                    Terminal.Console.WriteLine("Untagged " + location.Display);
                }
                else
                {
                    missing.Add(name);
                }
            }

            var pruned = await cache.PruneAsync(cancellationToken).ConfigureAwait(false);
            Terminal.Console.WriteLine($"Removed {pruned.Layers} layers, {FileChannelLoader.Format(pruned.Bytes)}.");
            if (missing.Count > 0)
            {
                throw new CliException($"not in the cache: {string.Join(", ", missing)} (see `trainyard images list`).");
            }

            return 0;
        });
        return command;
    }

    private static Command Prune()
    {
        var command = new Command("prune", "Remove what no cached image and no running job uses (layers, manifests, interrupted pulls)");
        AddCacheOptions(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            var (cache, _, _) = Open(result);
            var pruned = await cache.PruneAsync(cancellationToken).ConfigureAwait(false);
            Terminal.Console.WriteLine($"Removed {pruned.Layers} layers, {FileChannelLoader.Format(pruned.Bytes)}.");
            return 0;
        });
        return command;
    }

    /// <summary>A pull's progress as one line.</summary>
    public static string ProgressLine(PullProgress p)
    {
        const int Width = 30;
        var fraction = p.BytesTotal == 0 ? 1.0 : Math.Min(1.0, p.BytesDone / (double)p.BytesTotal);
        var filled = (int)Math.Round(fraction * Width);
        return string.Create(CultureInfo.InvariantCulture,
            $"Pulling [{new string('#', filled)}{new string('.', Width - filled)}] {fraction * 100,5:F1}%  {FileChannelLoader.Format(p.BytesDone)} / {FileChannelLoader.Format(p.BytesTotal)}  {p.LayersDone}/{p.LayersTotal} layers");
    }

    private static void AddCacheOptions(Command command)
    {
        command.Options.Add(CommonOptions.Home);
        command.Options.Add(CommonOptions.ImageCache);
        command.Options.Add(CommonOptions.InsecureRegistries);
        command.Options.Add(CommonOptions.Images);
    }

    private static (ImageCache Cache, IReadOnlyDictionary<string, string> Map, RegistryOptions Registry) Open(ParseResult result)
    {
        var home = Path.GetFullPath(result.GetValue(CommonOptions.Home)!);
        var cacheDir = result.GetValue(CommonOptions.ImageCache) is { } dir ? Path.GetFullPath(dir) : Path.Combine(home, "images");
        var map = CommonOptions.ImageMap(result, home);
        var registry = new RegistryOptions { InsecureRegistries = new HashSet<string>(result.GetValue(CommonOptions.InsecureRegistries) ?? [], StringComparer.OrdinalIgnoreCase) };
        return (new ImageCache(cacheDir), map, registry);
    }

    private static ImageLocation Locate(string name, IReadOnlyDictionary<string, string> map)
    {
        var resolved = new ImageResolutionOrder(map).Resolve(name, out var problem);
        return resolved switch
        {
            ResolvedImage.Container c => c.Location,
            ResolvedImage.Executable e => throw new CliException($"'{name}' is the local algorithm {e.Path}: there is no image to pull."),
            ResolvedImage.ScriptMode s => throw new CliException($"'{name}' is a SageMaker framework image, which runs in script mode on {s.Interpreter}: there is no image to pull (map it to a real image in images.json to pull one)."),
            _ => throw new CliException(problem ?? $"'{name}' is not an image."),
        };
    }

    private static string Display(string stored) =>
        ImageLocation.TryParse(stored, out var location, out _) ? location!.Display : stored;
}
