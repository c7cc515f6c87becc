using System.Text.Json.Serialization;
using Trainyard.Images.Cache;
using Trainyard.Images.Oci;

namespace Trainyard.Images;

/// <summary>Serialisation of OCI manifests, configs, docker-archive manifests and the cache's records.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(OciManifest))]
[JsonSerializable(typeof(OciImageConfig))]
[JsonSerializable(typeof(List<DockerArchiveEntry>))]
[JsonSerializable(typeof(CachedImage))]
public sealed partial class ImagesJsonContext : JsonSerializerContext;
