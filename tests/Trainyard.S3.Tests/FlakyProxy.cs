using System.Net;
using System.Net.Sockets;

namespace Trainyard.S3.Tests;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a server that cuts every <c>dropEvery</c>-th connection after it
/// has relayed <c>dropAfterBytes</c> of the server's answer: a connection dropped in the middle of a body.
/// </summary>
internal sealed class FlakyProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly int _dropEvery;
    private readonly long _dropAfterBytes;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _connections;
    private int _dropped;

    public FlakyProxy(Uri target, int dropEvery, long dropAfterBytes)
    {
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        _dropEvery = dropEvery;
        _dropAfterBytes = dropAfterBytes;
        _listener.Start();
        _accepting = AcceptLoop();
    }

    public Uri Endpoint => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public int Dropped => Volatile.Read(ref _dropped);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            var n = Interlocked.Increment(ref _connections);
            _ = Relay(client, drop: n % _dropEvery == 0);
        }
    }

    private async Task Relay(TcpClient client, bool drop)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
                var up = Pump(client.GetStream(), server.GetStream(), long.MaxValue);
                var down = Pump(server.GetStream(), client.GetStream(), drop ? _dropAfterBytes : long.MaxValue);
                await Task.WhenAny(up, down);
                if (drop && down.IsCompleted && await down)
                {
                    Interlocked.Increment(ref _dropped);

                    // A reset, not a clean FIN: what a dying connection looks like.
                    client.Client.LingerState = new LingerOption(true, 0);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Copies until EOF, or until <paramref name="limit"/> bytes; true when it stopped at the limit.</summary>
    private async Task<bool> Pump(Stream from, Stream to, long limit)
    {
        var buffer = new byte[64 * 1024];
        long total = 0;
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - total)), _stop.Token);
                if (n == 0)
                {
                    return false;
                }

                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                total += n;
                if (total >= limit)
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }
}
