// okg-harness runs the parts of OpenKruise Game's kruise-game-manager that its TencentCloud-CLB
// network plugin takes part in, against a real API server, so that the end-to-end tests prove
// the plugin works with dedicated-address-controller unchanged.
//
// It imports OpenKruise Game v1.0.0 as a Go module and runs, in one namespace:
//
//   - OpenKruise Game's own GameServerSet and GameServer controllers (pkg/controllers, as
//     kruise-game-manager's main registers them): the GameServerSet makes its Advanced
//     StatefulSet; each Pod gets its GameServer; GameServer.spec.networkDisabled goes to the
//     Pod's game.kruise.io/network-disabled label (SyncGsToPod); the Pod's
//     game.kruise.io/network-status goes to GameServer.status.networkStatus (SyncPodToGs).
//   - A stand-in for its Pod mutating webhook: kruise-game-manager calls the plugin's OnPodAdded
//     when a Pod labelled game.kruise.io/owner-gss is created and OnPodUpdated on each update of
//     it, and stores the Pod the plugin returns. Here the plugin is called once for every
//     version of such a Pod that is observed (OnPodAdded for the first, OnPodUpdated for each
//     later one) and what it returns is written back with an update (a conflict: the newer
//     version gets the call instead). The transport differs: an admission review over TLS
//     there, a watch and a second write here. That second write is itself an update, and so
//     gets its own OnPodUpdated call, as an update by anyone would; a call that changes nothing
//     ends the chain. (In kruise-game-manager the update after creation that triggers the
//     plugin is the GameServer controller's first patch of the Pod; here it may have come
//     before the first call.)
//
// OpenKruise's own Advanced StatefulSet controller (which makes the Pods) is not run.
//
// With --write-webhook-certs DIR it only writes a throwaway CA and a serving certificate for
// 127.0.0.1, for the tests that run kruise-game-manager itself with its webhook on loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"reflect"
	"sort"
	"sync"
	"time"

	kruisev1alpha1 "github.com/openkruise/kruise-api/apps/v1alpha1"
	kruisev1beta1 "github.com/openkruise/kruise-api/apps/v1beta1"
	gamev1alpha1 "github.com/openkruise/kruise-game/apis/v1alpha1"
	"github.com/openkruise/kruise-game/cloudprovider"
	"github.com/openkruise/kruise-game/cloudprovider/options"
	"github.com/openkruise/kruise-game/cloudprovider/tencentcloud"
	okgcontrollers "github.com/openkruise/kruise-game/pkg/controllers"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// podVersion is the last version of a Pod the plugin was run over (or wrote).
type podVersion struct {
	uid             types.UID
	resourceVersion string
}

// admission plays the Pod mutating webhook of kruise-game-manager for one plugin.
type admission struct {
	client client.Client
	reader client.Reader
	plugin cloudprovider.Plugin
	mu     sync.Mutex
	seen   map[types.NamespacedName]podVersion
}

func (a *admission) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pod := &corev1.Pod{}
	if err := a.reader.Get(ctx, req.NamespacedName, pod); err != nil {
		if apierrors.IsNotFound(err) {
			a.mu.Lock()
			_, known := a.seen[req.NamespacedName]
			delete(a.seen, req.NamespacedName)
			a.mu.Unlock()
			if known {
				gone := &corev1.Pod{}
				gone.Namespace, gone.Name = req.Namespace, req.Name
				perr := a.plugin.OnPodDeleted(a.client, gone, ctx)
				log.Printf("OnPodDeleted %s: error=%v", req.NamespacedName, perr)
			}
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if _, owned := pod.Labels[gamev1alpha1.GameServerOwnerGssKey]; !owned {
		return reconcile.Result{}, nil
	}
	a.mu.Lock()
	last, known := a.seen[req.NamespacedName]
	a.mu.Unlock()
	added := !known || last.uid != pod.UID
	if !added && last.resourceVersion == pod.ResourceVersion {
		return reconcile.Result{}, nil
	}
	if pod.DeletionTimestamp != nil {
		// kruise-game-manager calls OnPodDeleted at the DELETE admission, before this; the
		// plugin's OnPodUpdated returns a deleting Pod unchanged.
		return reconcile.Result{}, nil
	}

	call := "OnPodUpdated"
	var out *corev1.Pod
	var perr error
	if added {
		call = "OnPodAdded"
		out, perr = a.callAdded(ctx, pod.DeepCopy())
	} else {
		out, perr = a.callUpdated(ctx, pod.DeepCopy())
	}
	if perr != nil {
		// The webhook would deny the write; here the Pod stays as it is and the call is made
		// again a moment later.
		log.Printf("%s %s rv=%s: plugin error: %v", call, req.NamespacedName, pod.ResourceVersion, perr)
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	changed := changedKeys(pod, out)
	written := ""
	if len(changed) > 0 {
		if err := a.client.Update(ctx, out); err != nil {
			if apierrors.IsConflict(err) {
				// A newer version exists: its event brings the Pod back here, and the plugin
				// runs over that version (no backoff: conflicts are expected, the GameServer
				// controller and dedicated-address-controller write these Pods too).
				log.Printf("%s %s rv=%s: conflict, the newer Pod gets the call", call, req.NamespacedName, pod.ResourceVersion)
				return reconcile.Result{}, nil
			}
			if apierrors.IsNotFound(err) {
				return reconcile.Result{}, nil
			}
			return reconcile.Result{}, err
		}
		written = out.ResourceVersion
	}
	log.Printf("%s %s rv=%s -> changed %v (rv=%s)", call, req.NamespacedName, pod.ResourceVersion, changed, written)
	// The version just written is a Pod update too, and gets its OnPodUpdated when it is
	// observed (a pass that changes nothing ends the chain).
	a.mu.Lock()
	a.seen[req.NamespacedName] = podVersion{uid: pod.UID, resourceVersion: pod.ResourceVersion}
	a.mu.Unlock()
	return reconcile.Result{}, nil
}

func (a *admission) callAdded(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	out, perr := a.plugin.OnPodAdded(a.client, pod, ctx)
	if perr != nil {
		return nil, perr
	}
	return out, nil
}

func (a *admission) callUpdated(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	out, perr := a.plugin.OnPodUpdated(a.client, pod, ctx)
	if perr != nil {
		return nil, perr
	}
	return out, nil
}

// changedKeys lists the labels and annotations the plugin set, changed or removed, and "spec"
// when it changed the spec.
func changedKeys(before, after *corev1.Pod) []string {
	var keys []string
	diff := func(kind string, a, b map[string]string) {
		for k, v := range b {
			if old, ok := a[k]; !ok || old != v {
				keys = append(keys, kind+":"+k)
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				keys = append(keys, kind+":-"+k)
			}
		}
	}
	diff("label", before.Labels, after.Labels)
	diff("annotation", before.Annotations, after.Annotations)
	if !reflect.DeepEqual(before.Spec, after.Spec) {
		keys = append(keys, "spec")
	}
	sort.Strings(keys)
	return keys
}

func main() {
	// controller-runtime defines --kubeconfig (default $KUBECONFIG).
	var namespace, metrics, certs string
	flag.StringVar(&namespace, "namespace", os.Getenv("OKG_NAMESPACE"), "the only namespace to act in (default $OKG_NAMESPACE)")
	flag.StringVar(&metrics, "metrics-bind-address", "0", "controller-runtime metrics address; 0 turns it off")
	flag.StringVar(&certs, "write-webhook-certs", "", "write a CA and a serving certificate for 127.0.0.1 into this directory and exit (for kruise-game-manager's webhook on loopback)")
	klog.InitFlags(nil)
	flag.Parse()
	if certs != "" {
		if err := writeWebhookCerts(certs); err != nil {
			log.Fatalf("webhook certificates: %v", err)
		}
		return
	}
	if namespace == "" {
		fmt.Fprintln(os.Stderr, "okg-harness: --namespace (or OKG_NAMESPACE) is required")
		os.Exit(2)
	}
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	ctrl.SetLogger(zap.New(zap.UseDevMode(false)))

	config, err := ctrl.GetConfig()
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	config.QPS, config.Burst = 100, 200

	// The scheme of kruise-game-manager's main.
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, gamev1alpha1.AddToScheme, kruisev1beta1.AddToScheme, kruisev1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			log.Fatal(err)
		}
	}
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metrics},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
	})
	if err != nil {
		log.Fatalf("manager: %v", err)
	}
	if err := okgcontrollers.SetupWithManager(mgr); err != nil {
		log.Fatalf("OpenKruise Game controllers: %v", err)
	}

	provider, err := tencentcloud.NewTencentCloudProvider()
	if err != nil {
		log.Fatal(err)
	}
	plugins, err := provider.ListPlugins()
	if err != nil {
		log.Fatal(err)
	}
	plugin, ok := plugins[tencentcloud.ClbNetwork]
	if !ok {
		log.Fatalf("OpenKruise Game's TencentCloud provider has no %s plugin", tencentcloud.ClbNetwork)
	}
	webhook := &admission{
		client: mgr.GetClient(),
		reader: mgr.GetAPIReader(),
		plugin: plugin,
		seen:   map[types.NamespacedName]podVersion{},
	}
	owned := predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := o.GetLabels()[gamev1alpha1.GameServerOwnerGssKey]
		return ok
	})
	err = ctrl.NewControllerManagedBy(mgr).
		Named("okg-pod-webhook").
		// Admission reviews are served concurrently; one Pod's changes are still taken in turn.
		WithOptions(controller.Options{MaxConcurrentReconciles: 10}).
		For(&corev1.Pod{}, builder.WithPredicates(owned, predicate.Funcs{
			DeleteFunc: func(event.DeleteEvent) bool { return true },
		})).
		Complete(webhook)
	if err != nil {
		log.Fatalf("webhook stand-in: %v", err)
	}

	ctx := ctrl.SetupSignalHandler()
	go func() {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			// kruise-game-manager initialises its plugins once the cache has synced.
			if err := plugin.Init(mgr.GetClient(), options.TencentCloudOptions{Enable: true}, ctx); err != nil {
				log.Fatalf("plugin Init: %v", err)
			}
			log.Printf("okg-harness ready in namespace %s (plugin %s)", namespace, plugin.Name())
		}
	}()
	if err := mgr.Start(ctx); err != nil {
		log.Fatalf("manager: %v", err)
	}
}
